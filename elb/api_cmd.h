/* api_cmd.h -- `elb-certsync api`: one signed request to the load-balancer API, as a person
 * writes it (design.md §7). */
#ifndef ELB_API_CMD_H
#define ELB_API_CMD_H

/* argv[0] is "api". Prints the JSON answer to stdout; messages to stderr. Returns the exit
 * status: 0 success, 1 the request failed, 2 bad usage. */
int elb_api_main(int argc, char **argv);

/* The usage text of the subcommand. */
const char *elb_api_usage(void);

#endif
