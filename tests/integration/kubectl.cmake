# The real kubectl against fake-kube-apiserver (tests/integration/test_kubectl.sh), and the
# watch behaviour of the fake over real HTTP (test_kubectl_watch.sh).
if(TARGET fake-kube-apiserver)
  find_program(KUBECTL kubectl)
  if(KUBECTL)
    add_test(NAME test_kubectl
             COMMAND ${CMAKE_SOURCE_DIR}/tests/integration/test_kubectl.sh
                     $<TARGET_FILE:fake-kube-apiserver> ${CMAKE_SOURCE_DIR}/tests/data/kube)
    set_tests_properties(test_kubectl PROPERTIES LABELS integration TIMEOUT 120)
  endif()
  if(EXISTS ${CMAKE_SOURCE_DIR}/tests/integration/test_kubectl_watch.sh)
    add_test(NAME test_kubectl_watch
             COMMAND ${CMAKE_SOURCE_DIR}/tests/integration/test_kubectl_watch.sh
                     $<TARGET_FILE:fake-kube-apiserver>)
    set_tests_properties(test_kubectl_watch PROPERTIES LABELS integration TIMEOUT 120)
  endif()
endif()
