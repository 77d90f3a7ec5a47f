# The newcomer's demo (scripts/demo.sh, README's Quick start) as a test: tests/integration/
# test_demo.sh runs it with the binaries of this build tree (plain or sanitized) for huawei,
# ucloud with --keep, and a controller that never binds, and checks the rotation it reports
# against the emulator's state, that every process it started stops, and that no private key
# is printed or left on disk. Needs kubectl, openssl, curl and python3 (scripts/deps.sh).
if(TARGET elb-certsync AND TARGET fake-elb AND TARGET fake-kube-apiserver)
  find_package(Python3 COMPONENTS Interpreter)
  find_program(DEMO_KUBECTL kubectl)
  find_program(DEMO_OPENSSL openssl)
  find_program(DEMO_CURL curl)
  if(Python3_Interpreter_FOUND AND DEMO_KUBECTL AND DEMO_OPENSSL AND DEMO_CURL
     AND EXISTS ${CMAKE_SOURCE_DIR}/scripts/demo.sh)
    add_test(NAME test_demo
             COMMAND bash ${CMAKE_SOURCE_DIR}/tests/integration/test_demo.sh
                     $<TARGET_FILE_DIR:elb-certsync>)
    set_tests_properties(test_demo PROPERTIES LABELS integration TIMEOUT 120)
  endif()
endif()
