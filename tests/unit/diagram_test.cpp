#include "errand_catch.hpp"
#include <errand/diagram.hpp>
#include <errand/lifecycle.hpp>

#include <string>
#include <string_view>

namespace {

enum class ticket { open, assigned, closed, spam };
BOOST_DESCRIBE_ENUM(ticket, open, assigned, closed, spam)

struct assign {
  static constexpr std::string_view name = "assign";
};
struct resolve {
  static constexpr std::string_view name = "resolve";
};
struct flag {
  static constexpr std::string_view name = "flag";
};

struct desk {
  bool staffed = true;
};

struct staffed {
  static constexpr std::string_view name = "desk staffed";
  bool operator()(const desk& d, const assign&) const { return d.staffed; }
};
// A guard without a name draws as an unguarded edge.
struct anonymous_check {
  bool operator()(const desk&, const resolve&) const { return true; }
};
// Characters that are syntax in Mermaid or DOT still draw as text.
struct awkward {
  static constexpr std::string_view name = R"(score: "high"; #1 \ok)";
  bool operator()(const desk&, const flag&) const { return true; }
};

using ticket_machine =
    errand::machine<ticket::open, errand::events<assign, resolve, flag>,
                    errand::table<errand::row<ticket::open, assign, ticket::assigned, staffed>,
                                  errand::row<ticket::open, assign, ticket::open>,
                                  errand::row<ticket::assigned, resolve, ticket::closed, anonymous_check>,
                                  errand::row<ticket::open, flag, ticket::spam, awkward>>,
                    errand::terminal<ticket::closed, ticket::spam>>;

}  // namespace

TEST_CASE("to_mermaid draws every row in order, the start and the terminal states", "[diagram]") {
  CHECK(errand::to_mermaid<ticket_machine>() ==
        "stateDiagram-v2\n"
        "    [*] --> open\n"
        "    open --> assigned : assign [desk staffed]\n"
        "    open --> open : assign\n"
        "    assigned --> closed : resolve\n"
        "    open --> spam : flag [score#58; \"high\"#59; #35;1 \\ok]\n"
        "    closed --> [*]\n"
        "    spam --> [*]\n");
}

TEST_CASE("to_dot draws every state, then every row in order", "[diagram]") {
  CHECK(errand::to_dot<ticket_machine>("tickets") ==
        "digraph \"tickets\" {\n"
        "  rankdir=LR;\n"
        "  node [shape=box, style=rounded];\n"
        "  \"[*]\" [shape=point, width=0.2];\n"
        "  \"open\";\n"
        "  \"assigned\";\n"
        "  \"closed\" [peripheries=2];\n"
        "  \"spam\" [peripheries=2];\n"
        "  \"[*]\" -> \"open\";\n"
        "  \"open\" -> \"assigned\" [label=\"assign [desk staffed]\"];\n"
        "  \"open\" -> \"open\" [label=\"assign\"];\n"
        "  \"assigned\" -> \"closed\" [label=\"resolve\"];\n"
        "  \"open\" -> \"spam\" [label=\"flag [score: \\\"high\\\"; #1 \\\\ok]\"];\n"
        "}\n");
}

TEST_CASE("to_dot names the graph as asked, quoted", "[diagram]") {
  CHECK(errand::to_dot<ticket_machine>().starts_with("digraph \"machine\" {\n"));
  CHECK(errand::to_dot<ticket_machine>("a \"b\"").starts_with("digraph \"a \\\"b\\\"\" {\n"));
}

TEST_CASE("the job lifecycle's diagram has one edge per row and ends at succeeded", "[diagram]") {
  const std::string mermaid = errand::to_mermaid<errand::job_lifecycle>();
  CHECK(mermaid.starts_with("stateDiagram-v2\n    [*] --> pending\n    pending --> running : claim\n"));
  CHECK(mermaid.find("    running --> retry_pending : fail [retryable and attempts left]\n") != std::string::npos);
  CHECK(mermaid.ends_with("    running --> pending : release\n    succeeded --> [*]\n"));
  std::size_t edges = 0;
  for (std::size_t at = mermaid.find(" : "); at != std::string::npos; at = mermaid.find(" : ", at + 1)) ++edges;
  CHECK(edges == errand::job_lifecycle::row_count);
}
