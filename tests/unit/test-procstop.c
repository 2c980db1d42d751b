#include "common.h"
#include "procstop.h"
#include "error.h"

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "unit.h"

/*
 * procstop on children of the test: each one says on a pipe that it is
 * ready (its signal handling set up) before the test acts on it, so no
 * assertion depends on how soon a process runs.
 */

enum child_kind { PLAIN, DEAF_TO_TERM, EXITS };

static pid_t start_child(enum child_kind kind)
{
	int fds[2];
	char c = 0;
	pid_t pid;

	assert_int_equal(0, pipe(fds));
	pid = fork();
	assert_true(pid >= 0);
	if (!pid) {
		close(fds[0]);
		if (kind == DEAF_TO_TERM)
			signal(SIGTERM, SIG_IGN);
		if (write(fds[1], "x", 1) != 1)
			_exit(2);
		if (kind == EXITS)
			_exit(0);
		for (;;)
			pause();
	}
	close(fds[1]);
	assert_int_equal(1, read(fds[0], &c, 1));
	close(fds[0]);
	return pid;
}

/* How child 'pid' ended: the signal that killed it, or 0. */
static int reap(pid_t pid)
{
	int status;

	assert_int_equal(pid, waitpid(pid, &status, 0));
	return WIFSIGNALED(status) ? WTERMSIG(status) : 0;
}

static void test_term_stops_a_plain_process(void **state UNUSED)
{
	struct error err = ERROR_INIT;
	struct procstop_id id;
	enum procstop_how how;
	pid_t pid = start_child(PLAIN);

	assert_int_equal(0, procstop_identify(&id, pid));
	assert_true(procstop_alive(&id));
	assert_int_equal(0, procstop_stop(&id, PROCSTOP_TERM_MS, &how, &err));
	assert_int_equal(PROCSTOP_TERM, how);
	assert_int_equal(SIGTERM, reap(pid));
}

static void test_kill_after_the_bound(void **state UNUSED)
{
	struct error err = ERROR_INIT;
	struct procstop_id id;
	enum procstop_how how;
	pid_t pid = start_child(DEAF_TO_TERM);

	assert_int_equal(0, procstop_identify(&id, pid));
	/* it ignores SIGTERM for sure: the bound always runs out */
	assert_int_equal(0, procstop_stop(&id, 50, &how, &err));
	assert_int_equal(PROCSTOP_KILL, how);
	assert_int_equal(SIGKILL, reap(pid));
}

static void test_a_reused_pid_is_left_alone(void **state UNUSED)
{
	struct error err = ERROR_INIT;
	struct procstop_id id;
	enum procstop_how how;
	pid_t pid = start_child(PLAIN);
	int status;

	assert_int_equal(0, procstop_identify(&id, pid));
	/* as if the pid had been seen on a process started earlier */
	id.start -= 1;
	assert_false(procstop_alive(&id));
	assert_int_equal(0, procstop_stop(&id, PROCSTOP_TERM_MS, &how, &err));
	assert_int_equal(PROCSTOP_REPLACED, how);
	/* still running: no signal reached it */
	assert_int_equal(0, waitpid(pid, &status, WNOHANG));
	assert_int_equal(0, kill(pid, SIGKILL));
	assert_int_equal(SIGKILL, reap(pid));
}

static void test_an_exited_process_is_gone(void **state UNUSED)
{
	struct error err = ERROR_INIT;
	struct procstop_id id, zombie;
	enum procstop_how how;
	pid_t pid = start_child(PLAIN);
	pid_t quick;

	assert_int_equal(0, procstop_identify(&id, pid));
	assert_int_equal(0, kill(pid, SIGKILL));
	assert_int_equal(SIGKILL, reap(pid));
	assert_int_equal(-1, procstop_identify(&zombie, pid));
	assert_int_equal(0, procstop_stop(&id, PROCSTOP_TERM_MS, &how, &err));
	assert_int_equal(PROCSTOP_GONE, how);

	/* a zombie (exited, not reaped) is gone too */
	quick = start_child(EXITS);
	while (!procstop_identify(&zombie, quick))
		sleep_ms(5); /* until it has exited: no bound needed */
	assert_int_equal(0, procstop_stop(&zombie, PROCSTOP_TERM_MS, &how, &err));
	assert_int_equal(PROCSTOP_GONE, how);
	assert_int_equal(0, reap(quick));

	/* pid 1 and nonsense are never identified */
	assert_int_equal(-1, procstop_identify(&zombie, 1));
	assert_int_equal(-1, procstop_identify(&zombie, 0));
	assert_int_equal(-1, procstop_identify(&zombie, -5));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_term_stops_a_plain_process),
		cmocka_unit_test(test_kill_after_the_bound),
		cmocka_unit_test(test_a_reused_pid_is_left_alone),
		cmocka_unit_test(test_an_exited_process_is_gone),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
