#pragma once
// The compiled part of errand's core, for programs built with
// ERRAND_SEPARATE_COMPILATION (config.hpp, docs/compile-time.md): the codec's
// JSON parsing, on the rapidjson cereal brings. Each backend's src.hpp includes it, so a
// program includes it itself only when it uses no backend. The file that does
// is the program's one errand source file: it must include every src.hpp the
// program needs, and no other file may include any.

#if !defined(ERRAND_SEPARATE_COMPILATION)
#error "<errand/src.hpp> is only for programs built with ERRAND_SEPARATE_COMPILATION"
#endif

#include <errand/detail/json_document.hpp>
