/*
 * test_driver_guard.c — the driver guard (adapters/driver_guard.c): a fault
 * on an armed thread prints the armed message and exits 2; a fault anywhere
 * else goes to the action that was there before. Each case runs in a child
 * process, whose exit status and stderr the test reads.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "driver_guard.h"

/* Runs body in a child with stderr to a pipe; returns the wait status and
 * fills out with what the child wrote. */
static int in_child(void (*body)(void), char *out, size_t cap)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        dup2(fds[1], STDERR_FILENO);
        body();
        _exit(0);
    }
    close(fds[1]);
    size_t len = 0;
    ssize_t n;
    while (len + 1 < cap && (n = read(fds[0], out + len, cap - 1 - len)) > 0)
        len += (size_t)n;
    out[len] = '\0';
    close(fds[0]);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return status;
}

static struct qloop_driver_guard guard;

static void on_previous(int sig)
{
    (void)sig;
    _exit(7);
}

static void keep_previous(void)
{
    signal(SIGSEGV, on_previous);
    signal(SIGBUS, on_previous);
}

static void armed_raise(void)
{
    qloop_driver_guard_set(&guard, "odbc:pg", "数据集“%s”：驱动异常退出", "big");
    qloop_driver_guard_arm(&guard);
    raise(SIGSEGV);
}

static void armed_real_fault(void)
{
    qloop_driver_guard_set(&guard, "odbc:pg", "读取第 %d 行之后", 4096);
    char *page = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (page == MAP_FAILED)
        _exit(9);
    qloop_driver_guard_arm(&guard);
    *(volatile char *)page = 1;
}

static void disarmed_raise(void)
{
    keep_previous();
    qloop_driver_guard_set(&guard, "odbc:pg", "不该出现");
    qloop_driver_guard_arm(&guard);
    qloop_driver_guard_disarm();
    raise(SIGSEGV);
}

static void *raise_here(void *arg)
{
    (void)arg;
    raise(SIGSEGV);
    return NULL;
}

static void other_thread_raise(void)
{
    keep_previous();
    qloop_driver_guard_set(&guard, "odbc:pg", "不该出现");
    qloop_driver_guard_arm(&guard); /* this thread only */
    pthread_t t;
    if (pthread_create(&t, NULL, raise_here, NULL) != 0)
        _exit(9);
    pthread_join(t, NULL);
    _exit(8);
}

static void test_armed_fault_prints_and_exits_2(void **state)
{
    (void)state;
    char out[2048];
    int status = in_child(armed_raise, out, sizeof out);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 2);
    assert_string_equal(out, "qloop: odbc:pg: 数据集“big”：驱动异常退出\n");
}

static void test_real_fault_in_armed_stretch(void **state)
{
    (void)state;
    char out[2048];
    int status = in_child(armed_real_fault, out, sizeof out);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 2);
    assert_string_equal(out, "qloop: odbc:pg: 读取第 4096 行之后\n");
}

static void test_disarmed_fault_goes_to_previous_action(void **state)
{
    (void)state;
    char out[2048];
    int status = in_child(disarmed_raise, out, sizeof out);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 7);
    assert_null(strstr(out, "不该出现"));
}

static void test_fault_on_other_thread_is_not_contained(void **state)
{
    (void)state;
    char out[2048];
    int status = in_child(other_thread_raise, out, sizeof out);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 7);
    assert_null(strstr(out, "不该出现"));
}

static void test_long_message_cut_on_a_character(void **state)
{
    (void)state;
    char big[3 * QLOOP_DRIVER_GUARD_MSG];
    size_t n = 0;
    while (n + 3 < sizeof big) {
        memcpy(big + n, "中", 3); /* 3 bytes each: the cut falls inside one */
        n += 3;
    }
    big[n] = '\0';
    struct qloop_driver_guard g;
    qloop_driver_guard_set(&g, "odbc:x", "%s", big);
    assert_true(g.len < QLOOP_DRIVER_GUARD_MSG);
    assert_int_equal(g.len, strlen(g.message));
    assert_int_equal(g.message[g.len - 1], '\n');
    /* what precedes the newline ends on a whole character */
    size_t body = g.len - 1 - strlen("qloop: odbc:x: ");
    assert_int_equal(body % 3, 0);
    assert_memory_equal(g.message + g.len - 4, "中", 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_armed_fault_prints_and_exits_2),
        cmocka_unit_test(test_real_fault_in_armed_stretch),
        cmocka_unit_test(test_disarmed_fault_goes_to_previous_action),
        cmocka_unit_test(test_fault_on_other_thread_is_not_contained),
        cmocka_unit_test(test_long_message_cut_on_a_character),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
