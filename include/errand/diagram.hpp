#pragma once
// Diagrams drawn from a machine's table, so that the docs draw themselves.
//
//   std::cout << errand::to_mermaid<errand::job_lifecycle>();   // Markdown, GitHub, GitLab
//   std::cout << errand::to_dot<errand::job_lifecycle>("jobs"); // dot -Tsvg
//
// One edge per row, in row order, labelled "event" or "event [guard]" when the
// row's guard has a non-empty static `name`. The initial state is entered from
// a start marker; terminal states lead to an end marker (Mermaid) or are drawn
// with a double border (DOT). The output depends only on the table, so it can
// be compared byte for byte with what the docs show.

#include <errand/enum_name.hpp>
#include <errand/machine.hpp>

#include <string>
#include <string_view>

namespace errand {

namespace detail {

template <class Guard>
constexpr std::string_view guard_name() {
  if constexpr (requires {
                  { Guard::name } -> std::convertible_to<std::string_view>;
                })
    return Guard::name;
  else
    return {};
}

template <class Row>
std::string edge_label() {
  std::string label(Row::event_type::name);
  if (constexpr auto guard = guard_name<typename Row::guard_type>(); !guard.empty()) {
    label += " [";
    label += guard;
    label += ']';
  }
  return label;
}

template <described_enum State>
std::string mermaid_state(State s) {
  return std::string(*name_of(s));
}

// Mermaid ends a statement at ';' and reads ':' and '#' as syntax, even in a
// label; its entity codes draw them instead.
inline std::string mermaid_label(std::string_view text) {
  std::string out;
  for (const char c : text) {
    switch (c) {
      case ':':
        out += "#58;";
        break;
      case ';':
        out += "#59;";
        break;
      case '#':
        out += "#35;";
        break;
      case '\n':
      case '\r':
        out += ' ';
        break;
      default:
        out += c;
    }
  }
  return out;
}

inline std::string dot_string(std::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        break;
      default:
        out += c;
    }
  }
  return out + '"';
}

// Quoted, so that a state called `node`, `edge` or `graph` is not a DOT keyword.
template <described_enum State>
std::string dot_node(State s) {
  return dot_string(*name_of(s));
}

}  // namespace detail

// A Mermaid stateDiagram-v2 of `Machine`.
template <class Machine>
std::string to_mermaid() {
  std::string out = "stateDiagram-v2\n";
  out += "    [*] --> " + detail::mermaid_state(Machine::initial) + "\n";
  Machine::for_each_row([&](auto tag) {
    using row_type = typename decltype(tag)::type;
    out += "    " + detail::mermaid_state(row_type::from) + " --> " + detail::mermaid_state(row_type::to) + " : " +
           detail::mermaid_label(detail::edge_label<row_type>()) + "\n";
  });
  for (const auto state : enumerators<typename Machine::state_type>())
    if (Machine::is_terminal(state)) out += "    " + detail::mermaid_state(state) + " --> [*]\n";
  return out;
}

// A Graphviz digraph of `Machine`, named `graph_name`.
template <class Machine>
std::string to_dot(std::string_view graph_name = "machine") {
  std::string out = "digraph " + detail::dot_string(graph_name) + " {\n";
  out += "  rankdir=LR;\n";
  out += "  node [shape=box, style=rounded];\n";
  out += "  \"[*]\" [shape=point, width=0.2];\n";
  for (const auto state : enumerators<typename Machine::state_type>())
    out += "  " + detail::dot_node(state) + (Machine::is_terminal(state) ? " [peripheries=2];\n" : ";\n");
  out += "  \"[*]\" -> " + detail::dot_node(Machine::initial) + ";\n";
  Machine::for_each_row([&](auto tag) {
    using row_type = typename decltype(tag)::type;
    out += "  " + detail::dot_node(row_type::from) + " -> " + detail::dot_node(row_type::to) +
           " [label=" + detail::dot_string(detail::edge_label<row_type>()) + "];\n";
  });
  out += "}\n";
  return out;
}

}  // namespace errand
