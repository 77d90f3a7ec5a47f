# End-to-end scenarios (tests/e2e/scenarios.py): the real elb-certsync against
# fake-kube-apiserver and fake-elb, driven with the real kubectl, once per provider. One ctest
# test per (provider, scenario), named e2e_<provider>_<scenario>; the list comes from
# `scenarios.py --list` at configure time, which leaves out scenarios marked failing (run
# those with `scenarios.py --include-failing`). Needs python3 (+ python3-yaml), kubectl and
# openssl.
if(TARGET elb-certsync AND TARGET fake-elb AND TARGET fake-kube-apiserver)
  find_package(Python3 COMPONENTS Interpreter)
  find_program(E2E_KUBECTL kubectl)
  find_program(E2E_OPENSSL openssl)
  set(E2E_SCRIPT ${CMAKE_SOURCE_DIR}/tests/e2e/scenarios.py)
  if(Python3_Interpreter_FOUND AND E2E_KUBECTL AND E2E_OPENSSL AND EXISTS ${E2E_SCRIPT})
    # Re-configure when the scenarios change (the test list is read from the script).
    set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS
                 ${E2E_SCRIPT} ${CMAKE_SOURCE_DIR}/tests/e2e/harness.py)
    foreach(provider huawei ucloud)
      execute_process(COMMAND ${Python3_EXECUTABLE} ${E2E_SCRIPT} --list --provider ${provider}
                      OUTPUT_VARIABLE e2e_names RESULT_VARIABLE e2e_rc
                      OUTPUT_STRIP_TRAILING_WHITESPACE)
      if(NOT e2e_rc EQUAL 0 OR e2e_names STREQUAL "")
        message(WARNING "e2e: cannot list the ${provider} scenarios (${e2e_rc})")
        continue()
      endif()
      string(REPLACE "\n" ";" e2e_names "${e2e_names}")
      foreach(name ${e2e_names})
        add_test(NAME e2e_${provider}_${name}
                 COMMAND ${Python3_EXECUTABLE} ${E2E_SCRIPT} --provider ${provider}
                         --elb-certsync $<TARGET_FILE:elb-certsync>
                         --fake-elb $<TARGET_FILE:fake-elb>
                         --fake-kube-apiserver $<TARGET_FILE:fake-kube-apiserver>
                         ${name})
        set_tests_properties(e2e_${provider}_${name} PROPERTIES LABELS "integration;e2e"
                             TIMEOUT 240)
      endforeach()
    endforeach()
  endif()
endif()
