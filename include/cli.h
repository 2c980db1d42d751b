#ifndef WTP_CLI_H
#define WTP_CLI_H

/*
 * cli: the command line. Parses the global options, runs the command
 * (which parses its own options with cli_parse_options(), builtin.h),
 * prints its error (if any) and returns the exit status from the table in
 * docs/exit-codes.md. Nothing else prints errors or exits.
 */

struct error;

/* Run one invocation; returns the process exit status. */
int cli_main(int argc, char **argv);

/* The exit status for an error code (0 for 0), 129 for a usage error. */
int cli_exit_status(int code);

#endif
