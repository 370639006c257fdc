/* See test_support.h. */
#include "test_support.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

char test_output[8192];
size_t test_output_len;

static void write_hook(const char *text, size_t len)
{
    fwrite(text, 1, len, stderr);
    size_t room = sizeof test_output - 1 - test_output_len;
    if (len > room)
        len = room;
    memcpy(test_output + test_output_len, text, len);
    test_output_len += len;
    test_output[test_output_len] = '\0';
}

static void panic_hook(const char *msg)
{
    fprintf(stderr, "lwt panic: %s\n", msg);
    abort();
}

void test_support_install_platform(void)
{
    static const struct lwt_platform platform = {.write = write_hook, .panic = panic_hook};
    lwt_set_platform(&platform);
}

void test_output_clear(void)
{
    test_output_len = 0;
    test_output[0] = '\0';
}

void drain(void)
{
    while (lwt_run_deferred(SIZE_MAX))
        ;
}

int test_setup(void **state)
{
    (void)state;
    test_support_install_platform();
    test_output_clear();
    return 0;
}

int test_teardown(void **state)
{
    (void)state;
    drain();
    if (lwt_live_count() != 0) {
        fprintf(stderr, "test left %zu promise(s) alive\n", lwt_live_count());
        lwt_dump_pending();
        return -1;
    }
    if (lwt_memory_in_use() != 0) {
        fprintf(stderr, "test left %zu bytes held by the promise library\n", lwt_memory_in_use());
        return -1;
    }
    return 0;
}

size_t test_scale(size_t full, size_t under_valgrind)
{
    const char *v = getenv("TESSERA_UNDER_VALGRIND");
    return v && *v == '1' ? under_valgrind : full;
}

struct test_child test_run_in_child(void (*fn)(void))
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* The runner's handlers would jump back into its loop in the child. */
        static const int sigs[] = {SIGABRT, SIGILL, SIGTRAP, SIGSEGV, SIGBUS, SIGFPE, SIGSYS};
        for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
            signal(sigs[i], SIG_DFL);
        close(fds[0]);
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0)
            dup2(devnull, STDERR_FILENO);
        fn();
        if (write(fds[1], "r", 1) != 1)
            _exit(2);
        _exit(0);
    }
    close(fds[1]);
    struct test_child c = {0, false};
    char byte;
    c.returned = read(fds[0], &byte, 1) == 1;
    close(fds[0]);
    assert_int_equal(waitpid(pid, &c.status, 0), pid);
    return c;
}

void test_expect_abort(void (*fn)(void))
{
    struct test_child c = test_run_in_child(fn);
    assert_false(c.returned);
    assert_true(WIFSIGNALED(c.status));
    assert_int_equal(WTERMSIG(c.status), SIGABRT);
}
