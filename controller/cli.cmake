# The elb-certsync executable (bin/elb-certsync): subcommand table in main.c.
if(TARGET elb_provider)
  add_executable(elb-certsync ${CMAKE_CURRENT_SOURCE_DIR}/main.c)
  target_link_libraries(elb-certsync PRIVATE elb_provider)
  target_compile_definitions(elb-certsync PRIVATE CS_VERSION="${PROJECT_VERSION}")
endif()
