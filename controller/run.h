/* run.h -- the `run` and `validate` subcommands of elb-certsync. */
#ifndef CTL_RUN_H
#define CTL_RUN_H

/* Exit codes: 0 clean stop, 1 runtime failure (or lost leadership: the pod restarts as a
 * candidate), 2 bad flags or configuration (before anything starts). */
int ctl_run_main(int argc, char **argv);

/* Exit codes: 0 valid, 1 not valid for the provider, 2 usage or I/O error. */
int ctl_validate_main(int argc, char **argv);

#endif
