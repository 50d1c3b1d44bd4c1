/*
 * pam_bench: times whole PAM logins against a bare Unix-socket round trip, and measures
 * the memory a PAM module adds to the process that loads it.
 *
 * Usage:
 *   pam_bench echo-server SOCKET
 *       Serves SOCKET until killed: accept, read 256 bytes, write them back, close.
 *       Prints "READY" on stdout once it listens.
 *   pam_bench compare FLOOR_SOCKET DAEMON_SOCKET PERMIT_SERVICE MODULE_SERVICE USER RHOST COUNT ROUNDS
 *       Times COUNT iterations of each of four series, interleaved in ROUNDS blocks so
 *       that machine noise hits all of them alike:
 *         floor      connect to FLOOR_SOCKET, 256 bytes each way, close
 *         permit     pam_start, PAM_RHOST set to RHOST, pam_authenticate, pam_end
 *                    for PERMIT_SERVICE
 *         module     the same for MODULE_SERVICE
 *         daemon     the daemon's part of a cached MODULE_SERVICE login without PAM:
 *                    connect to DAEMON_SOCKET, send begin_login, read finish, close
 *       Prints one JSON object with median, p99, mean and min per series in
 *       microseconds. Exits 1 when any login or round trip failed.
 *   pam_bench rss SERVICE USER RHOST
 *       Runs one login and prints RSS and private dirty memory (kB, from
 *       /proc/self/smaps_rollup) before pam_start and after pam_authenticate, before
 *       pam_end, so the difference between two services is what one module adds.
 *   pam_bench load MODULE_PATH COUNT
 *       Times dlopen(RTLD_NOW) plus dlclose of MODULE_PATH, as libpam does for every
 *       handle, and reports whether the library is still mapped after dlclose.
 *
 * Run the PAM modes under pam_wrapper (LD_PRELOAD=libpam_wrapper.so PAM_WRAPPER=1
 * PAM_WRAPPER_SERVICE_DIR=DIR), so the service files come from DIR, not /etc/pam.d.
 */

#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <security/pam_appl.h>

#define PAYLOAD_LEN 256
#define WARMUP_ITERATIONS 5

/* Prompts the conversation was asked to show; a cached login shows none. */
static unsigned long prompts_shown;

static int answer_prompts(int count, const struct pam_message **messages, struct pam_response **responses, void *data) {
    (void)data;
    struct pam_response *replies = calloc((size_t)count, sizeof *replies);
    if (replies == NULL) {
        return PAM_BUF_ERR;
    }
    for (int i = 0; i < count; i++) {
        int style = messages[i]->msg_style;
        if (style == PAM_PROMPT_ECHO_ON || style == PAM_PROMPT_ECHO_OFF) {
            prompts_shown++;
            replies[i].resp = strdup("");
        }
    }
    *responses = replies;
    return PAM_SUCCESS;
}

static const struct pam_conv conversation = {answer_prompts, NULL};

static double now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int fill_address(struct sockaddr_un *address, const char *path) {
    memset(address, 0, sizeof *address);
    address->sun_family = AF_UNIX;
    if (strlen(path) >= sizeof address->sun_path) {
        fprintf(stderr, "pam_bench: socket path %s is longer than %zu bytes\n", path, sizeof address->sun_path - 1);
        return -1;
    }
    strcpy(address->sun_path, path);
    return 0;
}

static int transfer_all(int fd, char *buffer, size_t length, int writing) {
    size_t done = 0;
    while (done < length) {
        ssize_t n = writing ? write(fd, buffer + done, length - done) : read(fd, buffer + done, length - done);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return -1;
        }
        done += (size_t)n;
    }
    return 0;
}

/* ------------------------------------------------------------------------------------ */
/* echo-server */

static int run_echo_server(const char *path) {
    struct sockaddr_un address;
    if (fill_address(&address, path) != 0) {
        return 2;
    }
    int listener = socket(AF_UNIX, SOCK_STREAM, 0);
    unlink(path);
    if (listener < 0 || bind(listener, (struct sockaddr *)&address, sizeof address) != 0 || listen(listener, 128) != 0) {
        fprintf(stderr, "pam_bench: cannot listen on %s: %s\n", path, strerror(errno));
        return 1;
    }
    printf("READY\n");
    fflush(stdout);

    char buffer[PAYLOAD_LEN];
    for (;;) {
        int client = accept(listener, NULL, NULL);
        if (client < 0) {
            if (errno == EINTR) {
                continue;
            }
            fprintf(stderr, "pam_bench: accept failed: %s\n", strerror(errno));
            return 1;
        }
        if (transfer_all(client, buffer, PAYLOAD_LEN, 0) == 0) {
            transfer_all(client, buffer, PAYLOAD_LEN, 1);
        }
        close(client);
    }
}

/* ------------------------------------------------------------------------------------ */
/* compare */

enum series { SERIES_FLOOR, SERIES_PERMIT, SERIES_MODULE, SERIES_DAEMON, SERIES_COUNT };
static const char *const series_names[SERIES_COUNT] = {"floor", "permit", "module", "daemon"};

struct settings {
    const char *floor_socket;
    const char *daemon_socket;
    const char *services[SERIES_COUNT];
    const char *user;
    const char *rhost;
    /* The begin_login frame the module sends for a cached login: length prefix and JSON. */
    char begin_frame[1024];
    size_t begin_frame_len;
};

/* Builds the begin_login frame of proto/src/messages.rs: a 4-byte big-endian length and
 * the JSON body. User, service and remote host come from the command line and are not
 * escaped, so they must not contain quotes or backslashes. */
static int build_begin_frame(struct settings *settings) {
    const char *user = settings->user, *service = settings->services[SERIES_MODULE], *rhost = settings->rhost;
    if (strpbrk(user, "\"\\") != NULL || strpbrk(service, "\"\\") != NULL || strpbrk(rhost, "\"\\") != NULL) {
        fprintf(stderr, "pam_bench: USER, MODULE_SERVICE and RHOST may not contain quotes or backslashes\n");
        return -1;
    }
    char *body = settings->begin_frame + 4;
    int length = snprintf(body, sizeof settings->begin_frame - 4,
                          "{\"type\":\"begin_login\",\"user\":\"%s\",\"service\":\"%s\",\"rhost\":\"%s\",\"tty\":null,"
                          "\"flow\":null,\"wait_limit_secs\":10,\"interactive\":true}",
                          user, service, rhost);
    if (length < 0 || (size_t)length >= sizeof settings->begin_frame - 4) {
        fprintf(stderr, "pam_bench: USER, MODULE_SERVICE and RHOST are too long\n");
        return -1;
    }
    unsigned char *header = (unsigned char *)settings->begin_frame;
    header[0] = (unsigned char)(length >> 24);
    header[1] = (unsigned char)(length >> 16);
    header[2] = (unsigned char)(length >> 8);
    header[3] = (unsigned char)length;
    settings->begin_frame_len = (size_t)length + 4;
    return 0;
}

/* One connect, 256 bytes each way, close. Returns 0 on success. */
static int socket_round_trip(const char *path) {
    struct sockaddr_un address;
    if (fill_address(&address, path) != 0) {
        return -1;
    }
    char buffer[PAYLOAD_LEN];
    memset(buffer, 'x', sizeof buffer);

    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0) {
        return -1;
    }
    int result = -1;
    if (connect(fd, (struct sockaddr *)&address, sizeof address) == 0 && transfer_all(fd, buffer, PAYLOAD_LEN, 1) == 0 &&
        transfer_all(fd, buffer, PAYLOAD_LEN, 0) == 0) {
        result = 0;
    }
    close(fd);
    return result;
}

/* The daemon's part of a cached login: begin_login out, a finish frame with outcome
 * approved back. Returns 0 on success. */
static int daemon_round_trip(const struct settings *settings) {
    struct sockaddr_un address;
    if (fill_address(&address, settings->daemon_socket) != 0) {
        return -1;
    }
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0) {
        return -1;
    }
    char reply[4096];
    unsigned char header[4];
    int result = -1;
    if (connect(fd, (struct sockaddr *)&address, sizeof address) == 0 &&
        transfer_all(fd, (char *)settings->begin_frame, settings->begin_frame_len, 1) == 0 &&
        transfer_all(fd, (char *)header, sizeof header, 0) == 0) {
        size_t length = (size_t)header[0] << 24 | (size_t)header[1] << 16 | (size_t)header[2] << 8 | header[3];
        if (length < sizeof reply && transfer_all(fd, reply, length, 0) == 0) {
            reply[length] = '\0';
            result = strstr(reply, "\"type\":\"finish\"") && strstr(reply, "\"outcome\":\"approved\"") ? 0 : -1;
            if (result != 0) {
                fprintf(stderr, "pam_bench: the daemon sent %s, not an approved finish\n", reply);
            }
        }
    }
    close(fd);
    return result;
}

/* pam_start with PAM_RHOST set, as sshd does: the daemon keeps verified sessions only for
 * logins with a remote host or a terminal. */
static int start_with_rhost(const char *service, const char *user, const char *rhost, pam_handle_t **handle) {
    int result = pam_start(service, user, &conversation, handle);
    if (result != PAM_SUCCESS) {
        return result;
    }
    result = pam_set_item(*handle, PAM_RHOST, rhost);
    if (result != PAM_SUCCESS) {
        pam_end(*handle, result);
    }
    return result;
}

/* One whole login: pam_start, pam_authenticate, pam_end. Returns the authenticate result. */
static int pam_login(const char *service, const char *user, const char *rhost) {
    pam_handle_t *handle = NULL;
    int result = start_with_rhost(service, user, rhost, &handle);
    if (result != PAM_SUCCESS) {
        return result;
    }
    result = pam_authenticate(handle, 0);
    pam_end(handle, result);
    return result;
}

/* Runs one iteration of a series; returns 0 when it succeeded as a cached login must. */
static int run_once(const struct settings *settings, enum series which) {
    if (which == SERIES_FLOOR) {
        return socket_round_trip(settings->floor_socket);
    }
    if (which == SERIES_DAEMON) {
        return daemon_round_trip(settings);
    }
    unsigned long prompts_before = prompts_shown;
    int result = pam_login(settings->services[which], settings->user, settings->rhost);
    if (result != PAM_SUCCESS) {
        fprintf(stderr, "pam_bench: %s login returned %d (%s)\n", settings->services[which], result, pam_strerror(NULL, result));
        return -1;
    }
    if (prompts_shown != prompts_before) {
        fprintf(stderr, "pam_bench: %s login showed a prompt, so no verified session covered it\n", settings->services[which]);
        return -1;
    }
    return 0;
}

static int compare_doubles(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted samples. */
static double percentile(const double *sorted, size_t count, double fraction) {
    size_t rank = (size_t)(fraction * (double)count + 0.999999);
    if (rank < 1) {
        rank = 1;
    }
    return sorted[rank - 1];
}

static double median(const double *sorted, size_t count) {
    return count % 2 ? sorted[count / 2] : (sorted[count / 2 - 1] + sorted[count / 2]) / 2.0;
}

static int run_compare(const struct settings *settings, size_t count, size_t rounds) {
    size_t block = count / rounds;
    if (block == 0) {
        block = 1;
        rounds = count;
    }
    size_t total = block * rounds;

    double *samples[SERIES_COUNT];
    unsigned long failures[SERIES_COUNT] = {0};
    for (int s = 0; s < SERIES_COUNT; s++) {
        samples[s] = calloc(total, sizeof(double));
        if (samples[s] == NULL) {
            fprintf(stderr, "pam_bench: out of memory\n");
            return 1;
        }
        for (int i = 0; i < WARMUP_ITERATIONS; i++) {
            if (run_once(settings, (enum series)s) != 0) {
                /* A cached login that fails here would fail, slowly, every time. */
                fprintf(stderr, "pam_bench: the %s series failed while warming up; nothing was timed\n", series_names[s]);
                return 1;
            }
        }
    }

    /* Each round runs one block per series and rotates which series goes first. */
    size_t filled = 0;
    for (size_t round = 0; round < rounds; round++) {
        for (int offset = 0; offset < SERIES_COUNT; offset++) {
            enum series which = (enum series)((round + (size_t)offset) % SERIES_COUNT);
            for (size_t i = 0; i < block; i++) {
                double started = now_us();
                if (run_once(settings, which) != 0) {
                    failures[which]++;
                }
                samples[which][filled + i] = now_us() - started;
            }
        }
        filled += block;
    }

    printf("{");
    for (int s = 0; s < SERIES_COUNT; s++) {
        qsort(samples[s], total, sizeof(double), compare_doubles);
        double sum = 0;
        for (size_t i = 0; i < total; i++) {
            sum += samples[s][i];
        }
        printf("%s\"%s\":{\"count\":%zu,\"failures\":%lu,\"median_us\":%.2f,\"p99_us\":%.2f,\"mean_us\":%.2f,\"min_us\":%.2f}",
               s ? "," : "", series_names[s], total, failures[s], median(samples[s], total), percentile(samples[s], total, 0.99),
               sum / (double)total, samples[s][0]);
    }
    printf("}\n");

    for (int s = 0; s < SERIES_COUNT; s++) {
        free(samples[s]);
        if (failures[s] != 0) {
            return 1;
        }
    }
    return 0;
}

/* ------------------------------------------------------------------------------------ */
/* rss */

/* Reads one "Name:  N kB" field of /proc/self/smaps_rollup; -1 when missing. */
static long rollup_kb(const char *field) {
    FILE *file = fopen("/proc/self/smaps_rollup", "r");
    if (file == NULL) {
        return -1;
    }
    char line[256];
    long value = -1;
    size_t length = strlen(field);
    while (fgets(line, sizeof line, file) != NULL) {
        if (strncmp(line, field, length) == 0 && line[length] == ':') {
            value = strtol(line + length + 1, NULL, 10);
            break;
        }
    }
    fclose(file);
    return value;
}

static int run_rss(const char *service, const char *user, const char *rhost) {
    long rss_before = rollup_kb("Rss"), private_before = rollup_kb("Private_Dirty");

    pam_handle_t *handle = NULL;
    int result = start_with_rhost(service, user, rhost, &handle);
    if (result != PAM_SUCCESS) {
        fprintf(stderr, "pam_bench: pam_start(%s) returned %d\n", service, result);
        return 1;
    }
    result = pam_authenticate(handle, 0);
    long rss_during = rollup_kb("Rss"), private_during = rollup_kb("Private_Dirty");
    pam_end(handle, result);

    printf("{\"result\":%d,\"rss_before_kb\":%ld,\"rss_during_kb\":%ld,\"private_dirty_before_kb\":%ld,\"private_dirty_during_kb\":%ld}\n",
           result, rss_before, rss_during, private_before, private_during);
    return result == PAM_SUCCESS ? 0 : 1;
}

/* ------------------------------------------------------------------------------------ */
/* load */

static int still_mapped(const char *path) {
    FILE *maps = fopen("/proc/self/maps", "r");
    if (maps == NULL) {
        return -1;
    }
    char line[4096];
    int found = 0;
    while (!found && fgets(line, sizeof line, maps) != NULL) {
        found = strstr(line, path) != NULL;
    }
    fclose(maps);
    return found;
}

static int run_load(const char *path, size_t count) {
    double *samples = calloc(count, sizeof(double));
    if (samples == NULL) {
        return 1;
    }
    for (size_t i = 0; i < count; i++) {
        double started = now_us();
        void *library = dlopen(path, RTLD_NOW);
        if (library == NULL) {
            fprintf(stderr, "pam_bench: dlopen(%s) failed: %s\n", path, dlerror());
            return 1;
        }
        dlclose(library);
        samples[i] = now_us() - started;
    }
    qsort(samples, count, sizeof(double), compare_doubles);
    printf("{\"count\":%zu,\"median_us\":%.2f,\"p99_us\":%.2f,\"mapped_after_dlclose\":%s}\n", count, median(samples, count),
           percentile(samples, count, 0.99), still_mapped(path) == 1 ? "true" : "false");
    free(samples);
    return 0;
}

/* ------------------------------------------------------------------------------------ */

static size_t parse_count(const char *text, const char *name) {
    char *end = NULL;
    unsigned long value = strtoul(text, &end, 10);
    if (end == text || *end != '\0' || value == 0 || value > 10000000UL) {
        fprintf(stderr, "pam_bench: invalid %s %s: use a whole number from 1 to 10000000\n", name, text);
        exit(2);
    }
    return (size_t)value;
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "";

    if (strcmp(mode, "echo-server") == 0 && argc == 3) {
        signal(SIGPIPE, SIG_IGN);
        return run_echo_server(argv[2]);
    }
    if (strcmp(mode, "compare") == 0 && argc == 10) {
        static struct settings settings;
        settings.floor_socket = argv[2];
        settings.daemon_socket = argv[3];
        settings.services[SERIES_PERMIT] = argv[4];
        settings.services[SERIES_MODULE] = argv[5];
        settings.user = argv[6];
        settings.rhost = argv[7];
        if (build_begin_frame(&settings) != 0) {
            return 2;
        }
        return run_compare(&settings, parse_count(argv[8], "COUNT"), parse_count(argv[9], "ROUNDS"));
    }
    if (strcmp(mode, "rss") == 0 && argc == 5) {
        return run_rss(argv[2], argv[3], argv[4]);
    }
    if (strcmp(mode, "load") == 0 && argc == 4) {
        return run_load(argv[2], parse_count(argv[3], "COUNT"));
    }

    fprintf(stderr,
            "Usage: pam_bench echo-server SOCKET\n"
            "       pam_bench compare FLOOR_SOCKET DAEMON_SOCKET PERMIT_SERVICE MODULE_SERVICE USER RHOST COUNT ROUNDS\n"
            "       pam_bench rss SERVICE USER RHOST\n"
            "       pam_bench load MODULE_PATH COUNT\n");
    return 2;
}
