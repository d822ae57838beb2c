# tests/docs_snippets.cmake — the guide's complete programs stay correct: every ```c block of docs/*.md
# right after a `<!-- docs-test -->` line is extracted (at configure time) into the build tree, compiled
# against the library and run as a test docs.<page>.<n> (self-contained programs only: no placeholders,
# no waiting for signals). Included from tests/CMakeLists.txt.
file(GLOB MK_DOC_PAGES CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/docs/*.md)
if(NOT MK_WITH_TDX)
  list(FILTER MK_DOC_PAGES EXCLUDE REGEX "/docs/(tdx|tee)[^/]*\\.md$")
endif()
set(MK_DOC_OUT ${CMAKE_CURRENT_BINARY_DIR}/docs)
file(REMOVE_RECURSE ${MK_DOC_OUT})
file(MAKE_DIRECTORY ${MK_DOC_OUT})
foreach(page ${MK_DOC_PAGES})
  get_filename_component(pname ${page} NAME_WE)
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${page})
  execute_process(COMMAND awk -v out=${MK_DOC_OUT}/${pname}_ [=[
      /^<!-- docs-test -->$/ { marked = 1; next }
      /^```c$/ { inb = marked; marked = 0; buf = ""; next }
      /^```$/ && inb { inb = 0; n++; f = out n ".c"; printf "%s", buf > f; close(f); next }
      inb { buf = buf $0 "\n" }
      /[^ ]/ { marked = 0 }
    ]=] ${page} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "extracting the C programs of ${page} failed")
  endif()
endforeach()
file(GLOB MK_DOC_PROGRAMS ${MK_DOC_OUT}/*.c)
foreach(src ${MK_DOC_PROGRAMS})
  get_filename_component(name ${src} NAME_WE)
  string(REGEX REPLACE "_([0-9]+)$" ".\\1" test_name ${name})
  add_executable(doc_${name} ${src})
  target_link_libraries(doc_${name} PRIVATE mosaik_static)
  add_test(NAME docs.${test_name} COMMAND doc_${name})
  set_tests_properties(docs.${test_name} PROPERTIES LABELS docs TIMEOUT ${MK_UNIT_TIMEOUT} ENVIRONMENT "${MK_TEST_ENV}")
endforeach()
# docs/tdx.md verifies the shared test quote: its programs run next to the test data
foreach(t IN ITEMS docs.tdx.1 docs.tdx.2 docs.tdx.3)
  if(TEST ${t})
    set_tests_properties(${t} PROPERTIES WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}/data/tdx)
  endif()
endforeach()
