# The fault-injection soak (tests/e2e/soak.py, issue 6): two leader-electing replicas of the real
# elb-certsync against fake-kube-apiserver and fake-elb under provider faults, watch drops, 410
# storms, SIGKILLs, Secret rotations and Ingress churn; then the end state is checked against
# the desired one. One ctest test per provider, soak_<provider>, labels integration and soak.
# The chaos lasts SOAK_SECONDS (less under the sanitizers, whose binaries are 2-3x slower) so
# that a run takes about 90 s of wall time; the end phase may wait out a reflector's back-off
# (up to 60 s) on top, hence the timeout. Longer soaks: run the script with --duration.
# Needs python3, kubectl and openssl, as the e2e scenarios do.
if(TARGET elb-certsync AND TARGET fake-elb AND TARGET fake-kube-apiserver)
  find_package(Python3 COMPONENTS Interpreter)
  find_program(SOAK_KUBECTL kubectl)
  find_program(SOAK_OPENSSL openssl)
  set(SOAK_SCRIPT ${CMAKE_SOURCE_DIR}/tests/e2e/soak.py)
  if(SANITIZE STREQUAL "")
    set(soak_default 45)
  else()
    set(soak_default 30)
  endif()
  set(SOAK_SECONDS ${soak_default} CACHE STRING "Seconds of chaos of each soak test in the suite")
  if(Python3_Interpreter_FOUND AND SOAK_KUBECTL AND SOAK_OPENSSL AND EXISTS ${SOAK_SCRIPT})
    foreach(provider huawei ucloud)
      add_test(NAME soak_${provider}
               COMMAND ${Python3_EXECUTABLE} ${SOAK_SCRIPT} --provider ${provider}
                       --duration ${SOAK_SECONDS}
                       --elb-certsync $<TARGET_FILE:elb-certsync>
                       --fake-elb $<TARGET_FILE:fake-elb>
                       --fake-kube-apiserver $<TARGET_FILE:fake-kube-apiserver>)
      set_tests_properties(soak_${provider} PROPERTIES LABELS "integration;soak" TIMEOUT 300)
    endforeach()
  endif()
endif()
