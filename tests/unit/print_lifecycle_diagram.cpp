// Prints the job lifecycle's Mermaid diagram, which docs/lifecycle.md must show
// verbatim (the lifecycle_diagram_matches_docs test compares the two).
#include <errand/diagram.hpp>
#include <errand/lifecycle.hpp>

#include <iostream>

int main() { std::cout << errand::to_mermaid<errand::job_lifecycle>(); }
