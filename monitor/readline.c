/*
 * The human monitor's line editor. What goes back to the terminal is what QEMU 7.2's monitor
 * sends, byte for byte: after every input byte the shown line is brought up to date by moving
 * the cursor back over what was shown ("ESC [ D" each), writing the whole line, clearing the
 * rest ("ESC [ K") and moving the cursor to its place ("ESC [ C" / "ESC [ D"). Keys: printable
 * characters insert at the cursor; Backspace/DEL; Ctrl-A/E start/end; Ctrl-D delete; Ctrl-W
 * the word before the cursor; ESC [ A/B (and F/E) history; ESC [ C/D cursor; ESC [ 1~ 3~ 4~;
 * ESC O H/F; CR and LF each end a line. Tab completion is not implemented (Tab does nothing).
 */
#include <ctype.h>
#include <string.h>
#include "monitor-internal.h"

enum { RL_NORM, RL_ESC, RL_CSI, RL_SS3 };

void rl_init(ReadLine *rl)
{
    memset(rl, 0, sizeof(*rl));
    rl->hist_pos = -1;
}

void rl_free(ReadLine *rl)
{
    for (int i = 0; i < rl->hist_n; i++) {
        g_free(rl->hist[i]);
    }
    rl->hist_n = 0;
}

void rl_restart(ReadLine *rl)
{
    rl->len = rl->pos = 0;
}

void rl_prompt_shown(ReadLine *rl)
{
    rl->shown_len = rl->shown_pos = 0;
    rl->esc = RL_NORM;
}

static void repeat(GString *out, const char *s, int n)
{
    for (int i = 0; i < n; i++) {
        g_string_append(out, s);
    }
}

/* Bring the terminal's copy of the line up to date. */
static void redraw(ReadLine *rl, GString *out)
{
    if (rl->len != rl->shown_len || memcmp(rl->buf, rl->shown, rl->len) != 0) {
        repeat(out, "\033[D", rl->shown_pos);
        g_string_append_len(out, rl->buf, rl->len);
        g_string_append(out, "\033[K");
        memcpy(rl->shown, rl->buf, rl->len);
        rl->shown_len = rl->shown_pos = rl->len;
    }
    if (rl->pos > rl->shown_pos) {
        repeat(out, "\033[C", rl->pos - rl->shown_pos);
    } else if (rl->pos < rl->shown_pos) {
        repeat(out, "\033[D", rl->shown_pos - rl->pos);
    }
    rl->shown_pos = rl->pos;
}

static void delete_at(ReadLine *rl, int at, int n)
{
    memmove(rl->buf + at, rl->buf + at + n, rl->len - at - n);
    rl->len -= n;
}

static void set_line(ReadLine *rl, const char *s)
{
    size_t n = strlen(s);
    rl->len = rl->pos = (int)MIN(n, sizeof(rl->buf) - 1);
    memcpy(rl->buf, s, rl->len);
}

static void history_add(ReadLine *rl, const char *line)
{
    if (!*line) {
        return;
    }
    for (int i = 0; i < rl->hist_n; i++) { /* an equal entry moves to the end */
        if (!strcmp(rl->hist[i], line)) {
            g_free(rl->hist[i]);
            memmove(rl->hist + i, rl->hist + i + 1, (rl->hist_n - i - 1) * sizeof(rl->hist[0]));
            rl->hist_n--;
            break;
        }
    }
    if (rl->hist_n == RL_HISTORY) {
        g_free(rl->hist[0]);
        memmove(rl->hist, rl->hist + 1, (RL_HISTORY - 1) * sizeof(rl->hist[0]));
        rl->hist_n--;
    }
    rl->hist[rl->hist_n++] = g_strdup(line);
    rl->hist_pos = -1;
}

static void history_up(ReadLine *rl)
{
    if (rl->hist_pos == 0) {
        return;
    }
    if (rl->hist_pos < 0) {
        rl->hist_pos = rl->hist_n;
    }
    if (--rl->hist_pos >= 0) {
        set_line(rl, rl->hist[rl->hist_pos]);
    }
}

static void history_down(ReadLine *rl)
{
    if (rl->hist_pos < 0 || rl->hist_pos == RL_HISTORY - 1) {
        return;
    }
    if (++rl->hist_pos < rl->hist_n) {
        set_line(rl, rl->hist[rl->hist_pos]);
    } else {
        rl->hist_pos = -1;
    }
    rl->pos = rl->len;
}

/* Ctrl-W: the blanks before the cursor and the word before them. */
static void delete_word(ReadLine *rl)
{
    if (rl->pos == 0 || rl->pos > rl->len) {
        return;
    }
    int start = rl->pos - 1;
    while (start > 0 && isspace((unsigned char)rl->buf[start])) {
        start--;
    }
    while (start > 0) {
        if (isspace((unsigned char)rl->buf[start])) {
            start++;
            break;
        }
        start--;
    }
    if (start < rl->pos) {
        delete_at(rl, start, rl->pos - start);
        rl->pos = start;
    }
}

bool rl_feed(ReadLine *rl, uint8_t c, GString *out)
{
    bool done = false;
    switch (rl->esc) {
    case RL_NORM:
        switch (c) {
        case 1: /* Ctrl-A */
            rl->pos = 0;
            break;
        case 4: /* Ctrl-D */
            if (rl->pos < rl->len) {
                delete_at(rl, rl->pos, 1);
            }
            break;
        case 5: /* Ctrl-E */
            rl->pos = rl->len;
            break;
        case '\n':
        case '\r':
            rl->buf[rl->len] = 0;
            memcpy(rl->line, rl->buf, rl->len + 1);
            history_add(rl, rl->line);
            g_string_append(out, "\n");
            rl->len = rl->pos = rl->shown_len = rl->shown_pos = 0;
            done = true;
            break;
        case 23: /* Ctrl-W */
            delete_word(rl);
            break;
        case 27:
            rl->esc = RL_ESC;
            break;
        case 127:
        case 8:
            if (rl->pos > 0) {
                delete_at(rl, --rl->pos, 1);
            }
            break;
        case 155: /* 8-bit CSI */
            rl->esc = RL_CSI;
            break;
        default:
            if (c >= 32 && rl->len < (int)sizeof(rl->buf) - 1) {
                memmove(rl->buf + rl->pos + 1, rl->buf + rl->pos, rl->len - rl->pos);
                rl->buf[rl->pos++] = (char)c;
                rl->len++;
            }
            break;
        }
        break;
    case RL_ESC:
        rl->esc = c == '[' ? RL_CSI : c == 'O' ? RL_SS3 : RL_NORM;
        rl->esc_param = 0;
        break;
    case RL_CSI:
        if (c >= '0' && c <= '9') {
            rl->esc_param = rl->esc_param * 10 + (c - '0');
            break;
        }
        switch (c) {
        case 'A':
        case 'F':
            history_up(rl);
            break;
        case 'B':
        case 'E':
            history_down(rl);
            break;
        case 'C':
            if (rl->pos < rl->len) {
                rl->pos++;
            }
            break;
        case 'D':
            if (rl->pos > 0) {
                rl->pos--;
            }
            break;
        case '~':
            if (rl->esc_param == 1) {
                rl->pos = 0;
            } else if (rl->esc_param == 3 && rl->pos < rl->len) {
                delete_at(rl, rl->pos, 1);
            } else if (rl->esc_param == 4) {
                rl->pos = rl->len;
            }
            break;
        default:
            break;
        }
        rl->esc = RL_NORM;
        break;
    case RL_SS3:
        if (c == 'F') {
            rl->pos = rl->len;
        } else if (c == 'H') {
            rl->pos = 0;
        }
        rl->esc = RL_NORM;
        break;
    }
    redraw(rl, out);
    return done;
}
