# The list of tests: one file per source folder under tests/cmake/
# (libbf, producer, worker, autoscaler, ops), and one per story that spans
# programs (system, faults, bad_inputs, interop); one line per test file in
# each, so that work on different folders never edits one list.
file(GLOB BF_TEST_LISTS CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/cmake/*.cmake)
list(SORT BF_TEST_LISTS)
foreach(list_file ${BF_TEST_LISTS})
  include(${list_file})
endforeach()
