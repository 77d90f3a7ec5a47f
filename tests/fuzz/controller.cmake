# tests/fuzz/controller.cmake -- libFuzzer targets of the controller's pure core.
if(TARGET ctl_core)
  cs_fuzz_target(fuzz_ctl_certcheck SOURCES ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_ctl_certcheck.c
                 LIBS ctl_core CORPUS ${CMAKE_SOURCE_DIR}/tests/fuzz/corpus/ctl_certcheck)
  cs_fuzz_target(fuzz_ctl_annotations SOURCES ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_ctl_annotations.c
                 LIBS ctl_core CORPUS ${CMAKE_SOURCE_DIR}/tests/fuzz/corpus/ctl_annotations)
endif()
if(TARGET ctl_run)
  cs_fuzz_target(fuzz_ctl_objects SOURCES ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_ctl_objects.c
                 LIBS ctl_run CORPUS ${CMAKE_SOURCE_DIR}/tests/fuzz/corpus/ctl_objects)
endif()
