# UCloud application load balancers (ALB): fake-elb's ALB actions and the UCloud client's ALB
# calls. Included after tests/fakes/*.cmake (fragments are sorted), so the fake's libraries
# exist here when they were built.
if(TARGET fake_elb_testlib AND EXISTS ${CMAKE_SOURCE_DIR}/tests/unit/test_fake_elb_api_alb.c)
  cs_unit_test(test_fake_elb_api_alb SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_fake_elb_api_alb.c
               LIBS fake_elb_testlib TIMEOUT 60)
endif()
