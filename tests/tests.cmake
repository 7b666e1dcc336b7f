# The list of tests: one file per area under tests/cmake/, one line per
# test file in each, so that work on different areas never edits one list.
file(GLOB BF_TEST_LISTS CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/cmake/*.cmake)
list(SORT BF_TEST_LISTS)
foreach(list_file ${BF_TEST_LISTS})
  include(${list_file})
endforeach()
