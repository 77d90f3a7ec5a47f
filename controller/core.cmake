# controller/core.cmake -- ctl_core: the controller's pure core (naming, certificate checks,
# annotations, desired state, plan). No I/O; linked by the runtime and the unit tests.
add_library(ctl_core STATIC
  ${CMAKE_CURRENT_LIST_DIR}/model.c
  ${CMAKE_CURRENT_LIST_DIR}/problems.c
  ${CMAKE_CURRENT_LIST_DIR}/naming.c
  ${CMAKE_CURRENT_LIST_DIR}/certcheck.c
  ${CMAKE_CURRENT_LIST_DIR}/annotations.c
  ${CMAKE_CURRENT_LIST_DIR}/desired.c
  ${CMAKE_CURRENT_LIST_DIR}/plan.c)
target_link_libraries(ctl_core PUBLIC cs_common OpenSSL::Crypto)
