# Checks, with nm, that an object file compiled with ERRAND_SEPARATE_COMPILATION
# refers to runner<STORE>::poll() and to the store's enqueue() without
# defining them, and defines nothing of the store's engine: the code is
# compiled once, in the file that includes the backend's src.hpp.
#   cmake -D NM=<nm> -D OBJECT=<file.o> -D STORE=<memory_store> -D ENGINE=<detail::memory::store_engine> -P check_declarations_only.cmake
execute_process(COMMAND "${NM}" -C "${OBJECT}" OUTPUT_VARIABLE symbols RESULT_VARIABLE failed)
if(failed)
  message(FATAL_ERROR "${NM} -C ${OBJECT} failed")
endif()
string(REPLACE "\n" ";" lines "${symbols}")
set(poll_undefined FALSE)
set(enqueue_undefined FALSE)
foreach(line IN LISTS lines)
  if(line MATCHES "^ +U errand::runner<errand::${STORE}>::poll\\(\\)$")
    set(poll_undefined TRUE)
  elseif(line MATCHES "^ +U errand::detail::store_facade<errand::${ENGINE}>::enqueue\\(")
    set(enqueue_undefined TRUE)
  elseif(line MATCHES "^[0-9a-f]+ [TtWw] .*errand::${ENGINE}::")
    message(FATAL_ERROR "${OBJECT} compiles the store's engine itself: ${line}")
  elseif(line MATCHES "^[0-9a-f]+ [TtWw] errand::runner<errand::${STORE}>::")
    message(FATAL_ERROR "${OBJECT} compiles runner<${STORE}> itself: ${line}")
  endif()
endforeach()
if(NOT poll_undefined OR NOT enqueue_undefined)
  message(FATAL_ERROR "${OBJECT} does not call runner<${STORE}>::poll() and ${ENGINE}'s enqueue() as external "
                      "symbols (poll: ${poll_undefined}, enqueue: ${enqueue_undefined}); nm -C says:\n${symbols}")
endif()
message(STATUS "${OBJECT}: runner<${STORE}> and ${STORE} are declared here and compiled elsewhere")
