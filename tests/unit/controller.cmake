# tests/unit/controller.cmake -- unit tests of the controller's pure core (ctl_core).
if(TARGET ctl_core)
  set(CTL_TEST_SUPPORT ${CMAKE_SOURCE_DIR}/tests/unit/test_ctl_support.c)
  foreach(t certcheck naming annotations desired plan)
    if(EXISTS ${CMAKE_SOURCE_DIR}/tests/unit/test_ctl_${t}.c)
      cs_unit_test(test_ctl_${t} SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_ctl_${t}.c
                   ${CTL_TEST_SUPPORT} LIBS ctl_core)
    endif()
  endforeach()
endif()
