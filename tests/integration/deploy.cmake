# Deployment manifests and image: rendered with kubectl kustomize and checked.
# Active once the run command is linked in (target ctl_run).
if(TARGET elb-certsync AND TARGET ctl_run)
  set(deploy_args "")
  if(NOT SANITIZE STREQUAL "" OR FUZZ)
    set(deploy_args --no-image) # the image check judges an unsanitized binary only
  endif()
  add_test(NAME test_deploy
           COMMAND python3 ${CMAKE_SOURCE_DIR}/tests/integration/test_deploy.py
                   ${CMAKE_SOURCE_DIR} $<TARGET_FILE:elb-certsync> ${deploy_args})
  set_tests_properties(test_deploy PROPERTIES LABELS integration TIMEOUT 300)
endif()
