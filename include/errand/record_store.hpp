#pragma once
// The record store concept: what every backend provides for any record
// definition (record.hpp). A store creates records, reads and pages them, fires
// events at them (read, dispatch, then a compare-and-set write of the new row
// and a history entry with the event's payload, in one transaction), reads
// their history, prunes them, and tells subscribers of committed transitions.
// The pure half of a fire is record_step.hpp; a store only persists it.
// errand/conformance/records.hpp is the executable definition of this contract.

#include <errand/record.hpp>
#include <errand/record_columns.hpp>
#include <errand/store.hpp>
#include <errand/subscription.hpp>

#include <boost/describe/class.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace errand {

// A record row errand cannot read: names the table, the record and the column.
struct corrupt_record : store_error {
  corrupt_record(std::string_view table, std::int64_t record_id, const std::string& what)
      : store_error("errand: " + std::string(table) + " record " + std::to_string(record_id) +
                    " cannot be read: " + what),
        id(record_id) {}
  std::int64_t id;
};

// One transition of a record, written in the same transaction as the row.
// create() writes the first, event "create", from and to the initial state.
template <class State>
struct history_entry {
  std::int64_t record_id = 0;
  std::int64_t seq = 0;  // 1, 2, 3… per record; assigned by the store
  State from{};
  State to{};
  std::string event;
  std::string payload = "{}";  // the event as applied, as JSON (its reason made storable)
  std::optional<std::string> idempotency_key{};
  time_point at{};

  friend bool operator==(const history_entry&, const history_entry&) = default;
  BOOST_DESCRIBE_CLASS(history_entry, (), (record_id, seq, from, to, event, payload, idempotency_key, at), (), ())
};

struct fire_options {
  // Write only if the record is still at this version (what the caller read);
  // otherwise nothing is written and the result is fire_status::conflict.
  std::optional<std::int64_t> expected_version{};
  // An event fired again with a key this record's history already holds is a
  // duplicate: acknowledged, and nothing is written. A retried request, a
  // redelivered message. At most 200 bytes of storable text.
  std::optional<std::string> idempotency_key{};
};

inline constexpr std::size_t max_idempotency_key_bytes = 200;

enum class fire_status {
  applied,    // the row moved; entry is the transition written
  duplicate,  // the idempotency key was used before on this record; entry is that transition
  rejected,   // the machine refused the event here; message names the state and the event
  conflict,   // expected_version was not the row's version
  not_found
};

template <record_definition D>
struct fire_result {
  using state_type = typename D::machine::state_type;
  fire_status status = fire_status::not_found;
  std::optional<typename D::row> row{};  // after the write; as stored when nothing was written
  std::optional<history_entry<state_type>> entry{};
  std::string message{};  // why nothing was written, for rejected, conflict and not_found

  // True when the event is recorded: applied now or before.
  explicit operator bool() const noexcept {
    return status == fire_status::applied || status == fire_status::duplicate;
  }
};

// An equality filter on one field; an empty optional's value matches NULL.
struct record_filter {
  std::string_view field;
  column_value value;
};

// A page of records, by id ascending. Every filter that is set must hold.
template <record_definition D>
struct record_query {
  using row_type = typename D::row;
  std::optional<typename D::machine::state_type> state{};
  std::vector<record_filter> filters{};
  std::int64_t after_id = 0;  // only ids greater than this: the next page passes the last id seen
  std::size_t limit = 100;

  template <class Field>
  record_query& where(Field row_type::*field, const Field& value) {
    filters.push_back({record_traits<D>::field_name(field), to_column_value(value)});
    return *this;
  }
};

template <record_definition D>
struct record_prune {
  // Delete records in these states (empty: the machine's terminal states)
  // whose last transition is older than this...
  std::vector<typename D::machine::state_type> states{};
  std::optional<time_point> unchanged_since{};
  // ...and keep only each record's last N history entries.
  std::optional<std::size_t> keep_history{};
};

struct record_prune_result {
  std::int64_t records_deleted = 0;
  std::int64_t history_deleted = 0;
  friend bool operator==(const record_prune_result&, const record_prune_result&) = default;
};

template <record_definition D>
struct record_notification {
  typename D::row row;  // as committed
  history_entry<typename D::machine::state_type> entry;
};

template <record_definition D>
using record_listener = std::function<void(const record_notification<D>&)>;

// Filters and prune requests a store cannot run are refused with
// std::invalid_argument, by every store alike, before anything is read.
template <record_definition D>
void validate(const record_query<D>& query) {
  for (const auto& filter : query.filters) {
    bool known = false;
    boost::mp11::mp_for_each<detail::public_members<typename D::row>>(
        [&](auto member) { known = known || member.name == filter.field; });
    if (!known)
      throw std::invalid_argument("errand: a record_query filter names '" + std::string(filter.field) +
                                  "', which is no field of " + std::string(record_traits<D>::table) +
                                  "'s row; nothing was read");
    if (const auto* text = std::get_if<std::string>(&filter.value))
      detail::refuse_unstorable(*text, "record_query filter on '" + std::string(filter.field) + "'",
                                "nothing was read");
  }
}

template <record_definition D>
void validate(const record_prune<D>& prune) {
  if (prune.keep_history && *prune.keep_history == 0)
    throw std::invalid_argument(
        "errand: record_prune keep_history is 0; a record keeps at least its last transition; nothing was deleted");
}

inline void validate(const fire_options& options) {
  if (!options.idempotency_key) return;
  const auto& key = *options.idempotency_key;
  if (key.empty() || key.size() > max_idempotency_key_bytes)
    throw std::invalid_argument("errand: an idempotency key must be 1 to " +
                                std::to_string(max_idempotency_key_bytes) + " bytes, not " +
                                std::to_string(key.size()) + "; nothing was written");
  detail::refuse_unstorable(key, "an idempotency key", "nothing was written");
}

// The row whose fields `values` hold, in record_columns' order; throws
// corrupt_record naming the column that does not fit its field.
template <record_definition D>
typename D::row from_column_values(std::span<const column_value> values) {
  using row_type = typename D::row;
  row_type row{};
  std::int64_t id = 0;
  if (const auto* i = std::get_if<std::int64_t>(&values[0])) id = *i;
  std::size_t index = 0;
  boost::mp11::mp_for_each<detail::public_members<row_type>>([&](auto member) {
    const auto& value = values[index++];
    if (const auto why = read_column(value, row.*member.pointer))
      throw corrupt_record(record_traits<D>::table, id,
                           "column '" + std::string(record_traits<D>::column_of(member.name)) + "' " + *why);
    if constexpr (std::is_same_v<std::remove_cvref_t<decltype(row.*member.pointer)>, std::int64_t>)
      if (member.pointer == D::id) id = row.*member.pointer;
  });
  return row;
}

template <class S>
concept record_store =
    record_definition<typename S::definition> &&
    requires(S& s, const typename S::definition::row& row, std::int64_t id, time_point now,
             const boost::mp11::mp_front<typename S::definition::machine::event_list>& event,
             const fire_options& options, const record_query<typename S::definition>& query,
             const record_prune<typename S::definition>& prune, record_listener<typename S::definition> on_commit) {
      // Writes the row in the machine's initial state with version 1, and its
      // "create" history entry; assigns an id when row's id is 0.
      { s.create(row, now) } -> std::same_as<typename S::definition::row>;
      { s.get(id) } -> std::same_as<std::optional<typename S::definition::row>>;
      // Any of the machine's events; the first stands for all of them here.
      { s.fire(id, event, now, options) } -> std::same_as<fire_result<typename S::definition>>;
      { s.query(query) } -> std::same_as<std::vector<typename S::definition::row>>;
      {
        s.history(id)
      } -> std::same_as<std::vector<history_entry<typename S::definition::machine::state_type>>>;
      { s.prune(prune) } -> std::same_as<record_prune_result>;
      { s.subscribe(on_commit) } -> std::same_as<subscription>;
    };

}  // namespace errand
