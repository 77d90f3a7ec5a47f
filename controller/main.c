/* main.c -- the elb-certsync executable: a table of subcommands (run, validate, api,
 * version, help), each a function taking its own argv. */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "controller/run.h"
#include "elb/api_cmd.h"

#ifndef CS_VERSION
#define CS_VERSION "unknown"
#endif

static int cmd_help(int argc, char **argv);

static int cmd_version(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("elb-certsync %s\n", CS_VERSION);
    return 0;
}

struct subcommand {
    const char *name;
    int (*main)(int argc, char **argv);
    const char *summary;
};

/* Add a subcommand here: name, entry point, one line of help. */
static const struct subcommand subcommands[] = {
    {"run", ctl_run_main, "run the controller (run --help lists every flag)"},
    {"validate", ctl_validate_main, "check a certificate and key against a provider's rules"},
    {"api", elb_api_main, "send one signed request to the load-balancer API"},
    {"version", cmd_version, "print the version"},
    {"help", cmd_help, "show this help, or a subcommand's (help api)"},
};

static const size_t n_subcommands = sizeof(subcommands) / sizeof(subcommands[0]);

static void print_usage(FILE *f)
{
    fprintf(f, "usage: elb-certsync COMMAND [ARGS]\n\ncommands:\n");
    for (size_t i = 0; i < n_subcommands; i++)
        fprintf(f, "  %-10s %s\n", subcommands[i].name, subcommands[i].summary);
}

static int cmd_help(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "api") == 0) {
        fputs(elb_api_usage(), stdout);
        return 0;
    }
    if (argc > 1) {
        fprintf(stderr, "elb-certsync: no help for %s\n", argv[1]);
        print_usage(stderr);
        return 2;
    }
    print_usage(stdout);
    return 0;
}

int main(int argc, char **argv)
{
    /* A few worker threads: glibc's default of 8 arenas per core keeps freed memory around
     * in each (twice the heap's peak in the benchmark). MALLOC_ARENA_MAX still overrides. */
    if (!getenv("MALLOC_ARENA_MAX"))
        mallopt(M_ARENA_MAX, 2);
    cs_json_init();
    if (argc < 2) {
        print_usage(stderr);
        return 2;
    }
    const char *name = argv[1];
    if (strcmp(name, "-h") == 0 || strcmp(name, "--help") == 0)
        name = "help";
    if (strcmp(name, "--version") == 0)
        name = "version";
    for (size_t i = 0; i < n_subcommands; i++)
        if (strcmp(subcommands[i].name, name) == 0)
            return subcommands[i].main(argc - 1, argv + 1);
    fprintf(stderr, "elb-certsync: unknown command %s\n", argv[1]);
    print_usage(stderr);
    return 2;
}
