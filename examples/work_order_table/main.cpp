// A work-order system adopts errand on the table it already has. Its
// `work_orders` table was written years ago: the key is `order_no`, the
// status column is `status`, a blocked order's reason goes in
// `blocked_reason` (when anybody remembers to set it), and there are columns
// errand knows nothing about. The failure reason of a blocked order was lost
// the way it is in the bug reports errand comes from: the next status change
// overwrote it, or nobody set it.
//
// errand adopts the table without a rewrite: the record definition maps the
// fields whose columns are named differently, leaves the other columns alone,
// keeps the rows there, and adds only its version column and a history table.
// Then the order is completed in the application's own transaction together
// with the invoice: both commit, or neither does.
//
//   work_order_table [SQLITE_FILE]
#include "text_table.hpp"
#include <errand/record.hpp>
#include <errand/record_store.hpp>
#include <errand/sqlite/sqlite_record_store.hpp>
#include <errand/sqlite/sqlite_transaction.hpp>

#include <boost/describe/class.hpp>
#include <boost/describe/enum.hpp>

#include <sqlite3.h>

#include <array>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

using namespace std::chrono_literals;

enum class order_status { open, scheduled, in_progress, blocked, completed, cancelled };
BOOST_DESCRIBE_ENUM(order_status, open, scheduled, in_progress, blocked, completed, cancelled)

// The fields errand needs; the table has more columns than this.
struct work_order {
  std::int64_t id = 0;
  std::string customer;
  order_status status = order_status::open;
  std::optional<std::string> technician;
  std::optional<std::string> blocked_reason;
  std::optional<errand::time_point> blocked_at;
  std::int64_t version = 0;
};
BOOST_DESCRIBE_STRUCT(work_order, (), (id, customer, status, technician, blocked_reason, blocked_at, version))

struct assign {
  static constexpr std::string_view name = "assign";
  std::string technician;
};
BOOST_DESCRIBE_STRUCT(assign, (), (technician))
struct start {
  static constexpr std::string_view name = "start";
};
struct block {
  static constexpr std::string_view name = "block";
  std::string reason;
};
BOOST_DESCRIBE_STRUCT(block, (), (reason))
struct unblock {
  static constexpr std::string_view name = "unblock";
};
struct complete {
  static constexpr std::string_view name = "complete";
  std::int64_t amount_cents = 0;
};
BOOST_DESCRIBE_STRUCT(complete, (), (amount_cents))
struct cancel {
  static constexpr std::string_view name = "cancel";
  std::string why;
};
BOOST_DESCRIBE_STRUCT(cancel, (), (why))

namespace {

struct assign_technician {
  void operator()(errand::record_change<work_order>& c, const assign& e) const { c.row.technician = e.technician; }
};

using enum order_status;
using errand::row;
using order_machine = errand::machine<
    open, errand::events<assign, start, block, unblock, complete, cancel>,
    errand::table<row<open, assign, scheduled, errand::always, assign_technician>, row<scheduled, start, in_progress>,
                  row<in_progress, block, blocked>, row<blocked, unblock, in_progress>,
                  row<in_progress, complete, completed>, row<open, cancel, cancelled>,
                  row<scheduled, cancel, cancelled>, row<blocked, cancel, cancelled>>,
    errand::terminal<completed, cancelled>, errand::error_states<blocked>>;

}  // namespace

struct work_orders {
  using row = work_order;
  using machine = order_machine;
  static constexpr std::string_view table_name = "work_orders";
  static constexpr auto id = &work_order::id;
  static constexpr auto state = &work_order::status;
  static constexpr auto version = &work_order::version;
  static constexpr auto error_reason = &work_order::blocked_reason;
  static constexpr auto error_at = &work_order::blocked_at;
  // The existing table's names for the fields named differently here.
  static constexpr std::array columns{errand::column_name{"id", "order_no"},
                                      errand::column_name{"blocked_at", "blocked_since"}};
};

namespace {

class database {
 public:
  explicit database(const std::string& path) {
    if (sqlite3_open(path.c_str(), &db_) != SQLITE_OK) throw std::runtime_error(sqlite3_errmsg(db_));
    sqlite3_busy_timeout(db_, 5000);
  }
  ~database() { sqlite3_close(db_); }
  database(const database&) = delete;
  database& operator=(const database&) = delete;

  sqlite3* handle() const { return db_; }

  void exec(const std::string& sql) {
    char* message = nullptr;
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &message) != SQLITE_OK) {
      const std::string what = message ? message : "unknown error";
      sqlite3_free(message);
      throw std::runtime_error(what + " in: " + sql);
    }
  }

  // Prints a query's rows the way the sqlite3 shell does with .mode column and .nullvalue NULL.
  void print(const std::string& sql) {
    sqlite3_stmt* statement = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &statement, nullptr) != SQLITE_OK)
      throw std::runtime_error(sqlite3_errmsg(db_));
    std::vector<std::string> headers;
    for (int i = 0; i < sqlite3_column_count(statement); ++i) headers.emplace_back(sqlite3_column_name(statement, i));
    errand_examples::text_table table(headers);
    while (sqlite3_step(statement) == SQLITE_ROW) {
      std::vector<std::string> cells;
      for (int i = 0; i < sqlite3_column_count(statement); ++i) {
        const auto* text = sqlite3_column_text(statement, i);
        cells.emplace_back(text ? reinterpret_cast<const char*>(text) : "NULL");
      }
      table.add(cells);
    }
    sqlite3_finalize(statement);
    table.print(std::cout);
  }

 private:
  sqlite3* db_ = nullptr;
};

// The application's schema and data, as they were before errand.
void create_the_existing_system(database& db) {
  db.exec(R"(CREATE TABLE work_orders (
               order_no INTEGER PRIMARY KEY,
               customer TEXT NOT NULL,
               address TEXT NOT NULL,
               status TEXT NOT NULL DEFAULT 'open',
               technician TEXT,
               blocked_reason TEXT,
               blocked_since TEXT,
               created_by TEXT NOT NULL DEFAULT 'dispatch');
             CREATE TABLE invoices (order_no INTEGER NOT NULL REFERENCES work_orders(order_no),
                                    amount_cents INTEGER NOT NULL CHECK (amount_cents > 0));
             INSERT INTO work_orders (order_no, customer, address, status, technician, created_by) VALUES
               (1001, 'Acme Bakery', '1 Mill Lane', 'open', NULL, 'phone'),
               (1002, 'Harbour Hotel', '7 Quay St', 'in_progress', 'dana', 'web');)");
}

const errand::time_point start_of_day = *errand::from_iso8601("2026-03-02T08:00:00.000000Z");

// The application completes an order and bills it in one transaction of its own.
void complete_and_bill(database& db, errand::sqlite_record_store<work_orders>& orders, std::int64_t order_no,
                       std::int64_t amount_cents, errand::time_point now) {
  errand::sqlite_transaction transaction(db.handle());
  const auto completed = orders.fire(transaction, order_no, complete{amount_cents}, now);
  if (!completed) throw std::runtime_error(completed.message);
  db.exec("INSERT INTO invoices (order_no, amount_cents) VALUES (" + std::to_string(order_no) + ", " +
          std::to_string(amount_cents) + ")");
  transaction.commit();
}

}  // namespace

int main(int argc, char** argv) try {
  const std::filesystem::path path = argc > 1 ? argv[1] : "/tmp/errand-examples/work_order_table.db";
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path());
  for (const auto* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path.string() + suffix);

  database db(path.string());
  create_the_existing_system(db);
  std::cout << "The work-order system's table, before errand:\n";
  db.print("SELECT * FROM work_orders ORDER BY order_no");

  errand::sqlite_record_store<work_orders> orders(path.string());
  std::cout << "\nerrand adopted it: the same rows, its version column added, a history table beside it.\n";
  db.print("SELECT order_no, status, created_by, version FROM work_orders ORDER BY order_no");

  std::cout << "\nOrder 1001 is assigned, started, and blocked: the reason is kept in the app's own column.\n";
  orders.fire(1001, assign{"sam"}, start_of_day);
  orders.fire(1001, start{}, start_of_day + 1h);
  orders.fire(1001, block{"customer not home; gate locked"}, start_of_day + 2h);
  db.print("SELECT order_no, status, technician, blocked_reason, blocked_since FROM work_orders WHERE order_no = 1001");

  std::cout << "\nUnblocked the next morning: blocked_reason is NULL again, and the history remembers why.\n";
  orders.fire(1001, unblock{}, start_of_day + 24h);
  db.print("SELECT order_no, status, blocked_reason, blocked_since FROM work_orders WHERE order_no = 1001");
  errand_examples::text_table history({"seq", "at", "event", "payload"});
  for (const auto& entry : orders.history(1001))
    history.add({std::to_string(entry.seq), errand::to_iso8601(entry.at), entry.event, entry.payload});
  history.print(std::cout);

  std::cout << "\nOrder 1001 is completed and billed in one transaction of the application's:\n";
  complete_and_bill(db, orders, 1001, 18'500, start_of_day + 26h);
  db.print("SELECT w.order_no, w.status, i.amount_cents FROM work_orders w JOIN invoices i USING (order_no)");

  std::cout << "\nOrder 1002's invoice is refused (amount 0), so its completion rolls back with it:\n";
  try {
    complete_and_bill(db, orders, 1002, 0, start_of_day + 27h);
  } catch (const std::exception& e) {
    std::cout << "  the application's transaction failed: " << e.what() << "\n";
  }
  db.print("SELECT order_no, status, version, (SELECT count(*) FROM invoices i WHERE i.order_no = w.order_no) "
           "AS invoices FROM work_orders w WHERE order_no = 1002");
  std::cout << "  history entries for 1002: " << orders.history(1002).size() << "\n";

  std::cout << "\nAn order errand's machine does not allow:\n";
  std::cout << "  " << orders.fire(1002, assign{"kim"}, start_of_day + 28h).message << "\n";
  return 0;
} catch (const std::exception& e) {
  std::cerr << "work_order_table example failed: " << e.what() << '\n';
  return 1;
}
