/* The only file that includes <curses.h> (its macros -- move, clear, erase, timeout --
 * would collide with names elsewhere). */
#include "tui/tui_term.h"

#include <curses.h>
#include <langinfo.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "base/error.h"
#include "tui/tui_keys.h"

static SCREEN *term_screen;
static volatile sig_atomic_t term_active;  /* curses is up */
static volatile sig_atomic_t term_signal;  /* a pending SIGINT/SIGTERM/SIGHUP */
static struct termios saved_tty;          /* the modes before curses, for emergencies */
static volatile sig_atomic_t saved_tty_ok;
static char reset_seq[256];               /* mouse off, keypad off, cursor on, screen back */
static size_t reset_len;
static int saved_stderr = -1;             /* the real stderr while it is redirected */
static FILE *captured;                    /* where stderr goes meanwhile */
static TuiCell *last_frame;               /* what the terminal shows */
static int last_w, last_h;
static int color_mode;                    /* 0, 8 or 256 */
static attr_t style_attr[TS_COUNT];
static short style_pair[TS_COUNT];

/* Writes what stderr received while curses was up to the real stderr, using only
 * async-signal-safe calls so that the crash handler can use it too. */
static void restore_stderr(void)
{
    if (saved_stderr < 0)
        return;
    dup2(saved_stderr, STDERR_FILENO);
    if (captured) {
        int fd = fileno(captured);
        char buf[4096];
        ssize_t n;
        if (lseek(fd, 0, SEEK_SET) == 0)
            while ((n = read(fd, buf, sizeof buf)) > 0)
                if (write(STDERR_FILENO, buf, (size_t)n) < 0)
                    break;
    }
    close(saved_stderr);
    saved_stderr = -1;
}

/* Appends terminfo capability cap (when the terminal has it) to reset_seq. */
static void add_reset_cap(const char *cap)
{
    const char *s = tigetstr(cap);
    if (!s || s == (char *)-1)
        return;
    size_t n = strlen(s);
    if (reset_len + n < sizeof reset_seq) {
        memcpy(reset_seq + reset_len, s, n);
        reset_len += n;
    }
}

/* What endwin would send, computed while it is safe to ask terminfo, so that a signal
 * handler can undo curses with write and tcsetattr alone (both async-signal-safe). */
static void prepare_reset(void)
{
    static const char mouse_off[] = "\033[?1000l"; /* the X10/normal tracking mousemask set */
    reset_len = 0;
    memcpy(reset_seq, mouse_off, sizeof mouse_off - 1);
    reset_len = sizeof mouse_off - 1;
    add_reset_cap("sgr0");
    add_reset_cap("rmkx");
    add_reset_cap("cnorm");
    add_reset_cap("rmcup");
}

/* The way out when the process is dying: the terminal and stderr back, nothing freed
 * (another thread may still be drawing), async-signal-safe calls only. */
static void emergency_restore(void)
{
    if (term_active) {
        term_active = 0;
        if (reset_len && write(STDOUT_FILENO, reset_seq, reset_len) < 0) {
            /* nothing better to do: the modes below are restored all the same */
        }
        if (saved_tty_ok)
            tcsetattr(STDIN_FILENO, TCSADRAIN, &saved_tty);
        restore_stderr();
    }
}

/* Every signal whose default action ends the process, except SIGINT, SIGTERM and SIGHUP
 * (term_handler: the workbench closes cleanly, then tui_main re-raises them) and SIGKILL
 * and SIGSTOP, which cannot be caught. */
static const int fatal_signals[] = {
    SIGSEGV, SIGABRT, SIGBUS, SIGFPE, SIGILL, SIGQUIT, SIGUSR1, SIGUSR2, SIGALRM, SIGPIPE,
    SIGVTALRM, SIGPROF, SIGXCPU, SIGXFSZ, SIGTRAP, SIGSYS,
#ifdef SIGIO
    SIGIO,
#endif
#ifdef SIGSTKFLT
    SIGSTKFLT,
#endif
};

/* Restores the terminal, then dies of the same signal with its default action (a core
 * dump where that is the default), so the parent sees it: a shell reports 128+N. */
static void crash_handler(int sig)
{
    emergency_restore();
    raise(sig); /* SA_RESETHAND: the default action now */
}

static void term_handler(int sig)
{
    term_signal = sig;
}

static void install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = term_handler;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    sa.sa_handler = crash_handler;
    sa.sa_flags = SA_RESETHAND | SA_NODEFER;
    for (size_t i = 0; i < sizeof fatal_signals / sizeof fatal_signals[0]; i++)
        sigaction(fatal_signals[i], &sa, NULL);
}

static void restore_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = SIG_DFL;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    for (size_t i = 0; i < sizeof fatal_signals / sizeof fatal_signals[0]; i++)
        sigaction(fatal_signals[i], &sa, NULL);
    /* SIGINT goes back to the front end's handler only if it sets one again; the default
     * is the right thing after the workbench has closed. */
    sigaction(SIGINT, &sa, NULL);
}

/* Colours and attributes per style for 8 and 256 colours; attributes alone without. */
typedef struct StyleDef {
    short fg8, bg8, fg256, bg256;
    attr_t attr, mono;
} StyleDef;

static const StyleDef style_defs[TS_COUNT] = {
    [TS_NORMAL] = { -1, -1, -1, -1, A_NORMAL, A_NORMAL },
    [TS_DIM] = { -1, -1, 244, -1, A_DIM, A_DIM },
    [TS_TITLE] = { COLOR_BLACK, COLOR_WHITE, 252, 238, A_NORMAL, A_REVERSE },
    [TS_TITLE_FOCUS] = { COLOR_WHITE, COLOR_BLUE, 16, 75, A_BOLD, A_REVERSE | A_BOLD },
    [TS_HEADER] = { COLOR_CYAN, -1, 250, 236, A_BOLD, A_UNDERLINE },
    [TS_SELECTED] = { COLOR_BLACK, COLOR_CYAN, 16, 117, A_NORMAL, A_REVERSE },
    [TS_CURRENT] = { COLOR_BLACK, COLOR_GREEN, 16, 114, A_NORMAL, A_BOLD | A_UNDERLINE },
    [TS_GOOD] = { COLOR_GREEN, -1, 114, -1, A_NORMAL, A_NORMAL },
    [TS_WARN] = { COLOR_YELLOW, -1, 214, -1, A_NORMAL, A_NORMAL },
    [TS_BAD] = { COLOR_RED, -1, 203, -1, A_BOLD, A_BOLD },
    [TS_ACCENT] = { COLOR_CYAN, -1, 81, -1, A_NORMAL, A_NORMAL },
    [TS_PENDING] = { COLOR_MAGENTA, -1, 177, -1, A_NORMAL, A_DIM },
    [TS_STATUS] = { COLOR_BLACK, COLOR_WHITE, 16, 250, A_NORMAL, A_REVERSE },
    [TS_STATUS_HI] = { COLOR_BLUE, COLOR_WHITE, 18, 250, A_BOLD, A_REVERSE | A_BOLD },
    [TS_KEY] = { COLOR_BLACK, COLOR_CYAN, 16, 117, A_NORMAL, A_BOLD },
    [TS_HIST] = { COLOR_GREEN, -1, 78, -1, A_NORMAL, A_NORMAL },
    [TS_CLIPPED] = { COLOR_RED, -1, 167, -1, A_NORMAL, A_DIM },
    [TS_MARK] = { COLOR_YELLOW, -1, 220, -1, A_BOLD, A_BOLD },
    [TS_PROGRESS] = { COLOR_GREEN, COLOR_WHITE, 28, 250, A_NORMAL, A_REVERSE },
};

static void setup_styles(void)
{
    const char *no_color = getenv("NO_COLOR"); /* no-color.org: set and not empty */
    color_mode = 0;
    bool defaults = false; /* the terminal's own colours as -1 */
    if (!(no_color && no_color[0]) && has_colors() && start_color() == OK) {
        defaults = use_default_colors() == OK;
        color_mode = COLORS >= 256 && COLOR_PAIRS > TS_COUNT ? 256
                     : COLORS >= 8 && COLOR_PAIRS > TS_COUNT ? 8
                                                             : 0;
    }
    for (int i = 0; i < TS_COUNT; i++) {
        const StyleDef *d = &style_defs[i];
        style_pair[i] = 0;
        if (color_mode == 0) {
            style_attr[i] = d->mono;
            continue;
        }
        short fg = color_mode == 256 ? d->fg256 : d->fg8;
        short bg = color_mode == 256 ? d->bg256 : d->bg8;
        if (!defaults) { /* no "default colour": white on black stands in for it */
            fg = fg == -1 ? COLOR_WHITE : fg;
            bg = bg == -1 ? COLOR_BLACK : bg;
        }
        style_attr[i] = d->attr;
        if (fg != -1 || bg != -1) {
            init_pair((short)(i + 1), fg, bg);
            style_pair[i] = (short)(i + 1);
        }
    }
}

static void abort_hook(void)
{
    emergency_restore(); /* QS_ASSERT prints its message next, then aborts */
}

bool tui_term_begin(TuiTermInfo *info, char *why, size_t cap)
{
    setlocale(LC_ALL, "");
    setlocale(LC_NUMERIC, "C"); /* numbers are printed and parsed the same everywhere */
    const char *cs = nl_langinfo(CODESET);
    info->utf8 = cs && (!strcmp(cs, "UTF-8") || !strcmp(cs, "utf8"));
    const char *term = getenv("TERM");
    if (!term || !term[0] || !strcmp(term, "dumb")) {
        snprintf(why, cap, "TERM is %s", term && term[0] ? term : "not set");
        return false;
    }
    fflush(stdout);
    fflush(stderr);
    saved_tty_ok = tcgetattr(STDIN_FILENO, &saved_tty) == 0;
    term_screen = newterm(NULL, stdout, stdin);
    if (!term_screen) {
        snprintf(why, cap, "curses cannot drive TERM=%s", term);
        return false;
    }
    set_term(term_screen);
    prepare_reset();
    /* stderr to a file until the terminal is restored */
    captured = tmpfile();
    if (captured) {
        fflush(stderr);
        saved_stderr = dup(STDERR_FILENO);
        if (saved_stderr >= 0)
            dup2(fileno(captured), STDERR_FILENO);
    }
    term_active = 1;
    raw(); /* Ctrl-C arrives as a key: it cancels a job instead of killing the process */
    noecho();
    nonl();
    keypad(stdscr, TRUE);
    set_escdelay(25);
    mousemask(BUTTON1_PRESSED | BUTTON1_CLICKED | BUTTON4_PRESSED | BUTTON5_PRESSED, NULL);
    mouseinterval(0);
    setup_styles();
    info->colors = color_mode;
    install_signals();
    qs_set_abort_hook(abort_hook);
    static bool registered;
    if (!registered) {
        atexit(tui_term_end);
        registered = true;
    }
    return true;
}

void tui_term_end(void)
{
    if (!term_active)
        return;
    term_active = 0;
    curs_set(1);
    endwin();
    fflush(stdout);
    fflush(stderr);
    restore_stderr();
    if (captured) {
        fclose(captured);
        captured = NULL;
    }
    if (term_screen) {
        delscreen(term_screen);
        term_screen = NULL;
    }
    free(last_frame);
    last_frame = NULL;
    last_w = last_h = 0;
    restore_signals();
    qs_set_abort_hook(NULL);
}

void tui_term_size(int *w, int *h)
{
    getmaxyx(stdscr, *h, *w);
}

int tui_term_key(int timeout_ms, int *mx, int *my)
{
    wtimeout(stdscr, timeout_ms);
    wint_t c;
    int rc = wget_wch(stdscr, &c);
    if (rc == ERR)
        return TUI_KEY_NONE;
    if (rc == KEY_CODE_YES) {
        switch (c) {
        case KEY_UP: return TUI_KEY_UP;
        case KEY_DOWN: return TUI_KEY_DOWN;
        case KEY_LEFT: return TUI_KEY_LEFT;
        case KEY_RIGHT: return TUI_KEY_RIGHT;
        case KEY_HOME: return TUI_KEY_HOME;
        case KEY_END: return TUI_KEY_END;
        case KEY_PPAGE: return TUI_KEY_PGUP;
        case KEY_NPAGE: return TUI_KEY_PGDN;
        case KEY_DC: return TUI_KEY_DEL;
        case KEY_BTAB: return TUI_KEY_BTAB;
        case KEY_F(1): return TUI_KEY_F1;
        case KEY_BACKSPACE: return TUI_KEY_BACKSPACE;
        case KEY_ENTER: return TUI_KEY_ENTER;
        case KEY_RESIZE: return TUI_KEY_RESIZE;
        case KEY_MOUSE: {
            MEVENT ev;
            if (getmouse(&ev) != OK)
                return TUI_KEY_NONE;
            if (ev.bstate & BUTTON4_PRESSED)
                return TUI_KEY_UP;
            if (ev.bstate & BUTTON5_PRESSED)
                return TUI_KEY_DOWN;
            *mx = ev.x;
            *my = ev.y;
            return TUI_KEY_MOUSE;
        }
        default: return TUI_KEY_NONE;
        }
    }
    if (c == '\r' || c == '\n')
        return TUI_KEY_ENTER;
    if (c == 8 || c == 127)
        return TUI_KEY_BACKSPACE;
    return (int)c;
}

void tui_term_blit(const TuiScreen *s)
{
    size_t n = (size_t)s->w * (size_t)s->h;
    bool same = last_frame && last_w == s->w && last_h == s->h &&
                memcmp(last_frame, s->cells, n * sizeof *s->cells) == 0;
    if (!same) {
        for (int y = 0; y < s->h; y++)
            for (int x = 0; x < s->w; x++) {
                const TuiCell *c = &s->cells[y * s->w + x];
                if (y == s->h - 1 && x == s->w - 1)
                    continue; /* writing the last cell would scroll some terminals */
                wchar_t wc[2] = { (wchar_t)c->ch, 0 };
                cchar_t cc;
                int st = c->style < TS_COUNT ? c->style : TS_NORMAL;
                setcchar(&cc, wc, style_attr[st], style_pair[st], NULL);
                mvadd_wch(y, x, &cc);
            }
        if (!last_frame || last_w != s->w || last_h != s->h) {
            free(last_frame);
            last_frame = xmalloc(n * sizeof *s->cells);
            last_w = s->w;
            last_h = s->h;
        }
        memcpy(last_frame, s->cells, n * sizeof *s->cells);
    }
    if (s->cur_on) {
        curs_set(1);
        move(s->cur_y, s->cur_x);
    } else {
        curs_set(0);
    }
    refresh();
}

int tui_term_signal(void)
{
    int s = term_signal;
    term_signal = 0;
    return s;
}
