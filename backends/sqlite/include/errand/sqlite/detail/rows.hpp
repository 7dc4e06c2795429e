#pragma once
// Reading errand's rows back. A job and a history record are Boost.Describe'd
// structs whose member names are the column names, so the column lists and the
// decoding are generated from the structs: column i holds member i. A value
// errand cannot read (an unknown state, a time that is not ISO-8601 UTC, text
// where a number belongs) throws corrupt_row naming the job and the column.

#include <errand/detail/text.hpp>
#include <errand/enum_name.hpp>
#include <errand/job.hpp>
#include <errand/sqlite/detail/connection.hpp>
#include <errand/store.hpp>

#include <boost/describe/members.hpp>
#include <boost/mp11/algorithm.hpp>

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

namespace errand::detail::sqlite {

// "from" and "to" are SQL keywords, so history names those columns from_state and to_state.
inline std::string_view column_name(std::string_view member) {
  if (member == "from") return "from_state";
  if (member == "to") return "to_state";
  return member;
}

// "id, queue, kind, ..." for a described row type.
template <class Row>
std::string column_list() {
  std::string list;
  boost::mp11::mp_for_each<boost::describe::describe_members<Row, boost::describe::mod_public>>([&](auto member) {
    if (!list.empty()) list += ", ";
    list += column_name(member.name);
  });
  return list;
}

template <class Row>
inline constexpr int column_count =
    static_cast<int>(boost::mp11::mp_size<boost::describe::describe_members<Row, boost::describe::mod_public>>::value);

class row_reader {
 public:
  row_reader(const cursor& c, std::int64_t job_id, int first_column)
      : cursor_(c), job_id_(job_id), column_(first_column) {}

  template <class Row>
  Row read() {
    Row row{};
    boost::mp11::mp_for_each<boost::describe::describe_members<Row, boost::describe::mod_public>>([&](auto member) {
      name_ = column_name(member.name);
      read(row.*member.pointer);
      ++column_;
    });
    return row;
  }

 private:
  [[noreturn]] void corrupt(const std::string& what) const {
    throw corrupt_row(job_id_, "column '" + std::string(name_) + "' " + what);
  }

  std::string shown() const { return detail::quoted_excerpt(cursor_.text(column_)); }

  std::string_view held_type() const {
    switch (cursor_.type(column_)) {
      case SQLITE_INTEGER:
        return "an integer";
      case SQLITE_FLOAT:
        return "a real number";
      case SQLITE_BLOB:
        return "a blob";
      case SQLITE_NULL:
        return "NULL";
      default:
        return "text";
    }
  }

  void read(std::string& out) {
    if (cursor_.type(column_) != SQLITE_TEXT) corrupt("holds " + std::string(held_type()) + ", not text");
    out = cursor_.text(column_);
  }

  template <class Integer>
  requires std::is_integral_v<Integer>
  void read(Integer& out) {
    if (cursor_.type(column_) != SQLITE_INTEGER) {
      const bool text = cursor_.type(column_) == SQLITE_TEXT;
      corrupt(detail::concat("holds ", held_type(), text ? " " : "", text ? shown() : "", ", not an integer"));
    }
    const auto value = cursor_.integer(column_);
    if (value < std::numeric_limits<Integer>::min() || value > std::numeric_limits<Integer>::max())
      corrupt("holds " + std::to_string(value) + ", out of range");
    out = static_cast<Integer>(value);
  }

  void read(job_state& out) {
    if (cursor_.type(column_) != SQLITE_TEXT) corrupt("holds " + std::string(held_type()) + ", not a state name");
    const auto state = from_name<job_state>(cursor_.text(column_));
    if (!state) corrupt("holds " + shown() + ", which is not a job state");
    out = *state;
  }

  void read(time_point& out) {
    if (cursor_.type(column_) != SQLITE_TEXT) corrupt("holds " + std::string(held_type()) + ", not a time");
    const auto t = from_iso8601(cursor_.text(column_));
    if (!t) corrupt("holds " + shown() + ", which is not an ISO-8601 UTC time");
    out = *t;
  }

  template <class T>
  void read(std::optional<T>& out) {
    if (cursor_.type(column_) == SQLITE_NULL) {
      out.reset();
      return;
    }
    T value{};
    read(value);
    out = std::move(value);
  }

  const cursor& cursor_;
  std::int64_t job_id_;
  int column_;
  std::string_view name_;
};

// The row at the cursor, whose columns from `first_column` on are Row's
// members in order; its first member is the job id named in errors.
template <class Row>
Row read_row(const cursor& c, int first_column = 0) {
  return row_reader(c, c.integer(first_column), first_column).read<Row>();
}

}  // namespace errand::detail::sqlite
