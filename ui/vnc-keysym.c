/*
 * X keysyms (what a VNC KeyEvent carries) to key positions (QKeyCodes) for the US layout
 * (QEMU's default keymap, en-us). A shifted symbol maps to the key that makes it; the client
 * sends Shift itself. Clients with QEMU's extended key event send key numbers instead.
 */
#include "vnc.h"

static const struct {
    char c;
    QKeyCode q;
} ascii_keys[] = {
    {'1', Q_KEY_CODE_1},
    {'!', Q_KEY_CODE_1},
    {'2', Q_KEY_CODE_2},
    {'@', Q_KEY_CODE_2},
    {'3', Q_KEY_CODE_3},
    {'#', Q_KEY_CODE_3},
    {'4', Q_KEY_CODE_4},
    {'$', Q_KEY_CODE_4},
    {'5', Q_KEY_CODE_5},
    {'%', Q_KEY_CODE_5},
    {'6', Q_KEY_CODE_6},
    {'^', Q_KEY_CODE_6},
    {'7', Q_KEY_CODE_7},
    {'&', Q_KEY_CODE_7},
    {'8', Q_KEY_CODE_8},
    {'*', Q_KEY_CODE_8},
    {'9', Q_KEY_CODE_9},
    {'(', Q_KEY_CODE_9},
    {'0', Q_KEY_CODE_0},
    {')', Q_KEY_CODE_0},
    {'-', Q_KEY_CODE_MINUS},
    {'_', Q_KEY_CODE_MINUS},
    {'=', Q_KEY_CODE_EQUAL},
    {'+', Q_KEY_CODE_EQUAL},
    {'[', Q_KEY_CODE_BRACKET_LEFT},
    {'{', Q_KEY_CODE_BRACKET_LEFT},
    {']', Q_KEY_CODE_BRACKET_RIGHT},
    {'}', Q_KEY_CODE_BRACKET_RIGHT},
    {';', Q_KEY_CODE_SEMICOLON},
    {':', Q_KEY_CODE_SEMICOLON},
    {'\'', Q_KEY_CODE_APOSTROPHE},
    {'"', Q_KEY_CODE_APOSTROPHE},
    {'`', Q_KEY_CODE_GRAVE_ACCENT},
    {'~', Q_KEY_CODE_GRAVE_ACCENT},
    {'\\', Q_KEY_CODE_BACKSLASH},
    {'|', Q_KEY_CODE_BACKSLASH},
    {',', Q_KEY_CODE_COMMA},
    {'<', Q_KEY_CODE_COMMA},
    {'.', Q_KEY_CODE_DOT},
    {'>', Q_KEY_CODE_DOT},
    {'/', Q_KEY_CODE_SLASH},
    {'?', Q_KEY_CODE_SLASH},
    {' ', Q_KEY_CODE_SPC},
};

static const QKeyCode letters[26] = {
    Q_KEY_CODE_A, Q_KEY_CODE_B, Q_KEY_CODE_C, Q_KEY_CODE_D, Q_KEY_CODE_E, Q_KEY_CODE_F,
    Q_KEY_CODE_G, Q_KEY_CODE_H, Q_KEY_CODE_I, Q_KEY_CODE_J, Q_KEY_CODE_K, Q_KEY_CODE_L,
    Q_KEY_CODE_M, Q_KEY_CODE_N, Q_KEY_CODE_O, Q_KEY_CODE_P, Q_KEY_CODE_Q, Q_KEY_CODE_R,
    Q_KEY_CODE_S, Q_KEY_CODE_T, Q_KEY_CODE_U, Q_KEY_CODE_V, Q_KEY_CODE_W, Q_KEY_CODE_X,
    Q_KEY_CODE_Y, Q_KEY_CODE_Z,
};

static const struct {
    uint32_t sym;
    QKeyCode q;
} special_keys[] = {
    {0xff08, Q_KEY_CODE_BACKSPACE},   {0xff09, Q_KEY_CODE_TAB},
    {0xfe20, Q_KEY_CODE_TAB},         {0xff0d, Q_KEY_CODE_RET},
    {0xff1b, Q_KEY_CODE_ESC},         {0xffff, Q_KEY_CODE_DELETE},
    {0xff50, Q_KEY_CODE_HOME},        {0xff51, Q_KEY_CODE_LEFT},
    {0xff52, Q_KEY_CODE_UP},          {0xff53, Q_KEY_CODE_RIGHT},
    {0xff54, Q_KEY_CODE_DOWN},        {0xff55, Q_KEY_CODE_PGUP},
    {0xff56, Q_KEY_CODE_PGDN},        {0xff57, Q_KEY_CODE_END},
    {0xff63, Q_KEY_CODE_INSERT},      {0xff13, Q_KEY_CODE_PAUSE},
    {0xff14, Q_KEY_CODE_SCROLL_LOCK}, {0xff15, Q_KEY_CODE_SYSRQ},
    {0xff61, Q_KEY_CODE_PRINT},       {0xff67, Q_KEY_CODE_COMPOSE},
    {0xff7f, Q_KEY_CODE_NUM_LOCK},    {0xffe1, Q_KEY_CODE_SHIFT},
    {0xffe2, Q_KEY_CODE_SHIFT_R},     {0xffe3, Q_KEY_CODE_CTRL},
    {0xffe4, Q_KEY_CODE_CTRL_R},      {0xffe5, Q_KEY_CODE_CAPS_LOCK},
    {0xffe7, Q_KEY_CODE_META_L},      {0xffe8, Q_KEY_CODE_META_R},
    {0xffe9, Q_KEY_CODE_ALT},         {0xffea, Q_KEY_CODE_ALT_R},
    {0xfe03, Q_KEY_CODE_ALT_R},       {0xffeb, Q_KEY_CODE_META_L},
    {0xffec, Q_KEY_CODE_META_R},      {0xff8d, Q_KEY_CODE_KP_ENTER},
    {0xffaa, Q_KEY_CODE_KP_MULTIPLY}, {0xffab, Q_KEY_CODE_KP_ADD},
    {0xffad, Q_KEY_CODE_KP_SUBTRACT}, {0xffae, Q_KEY_CODE_KP_DECIMAL},
    {0xffaf, Q_KEY_CODE_KP_DIVIDE},   {0xff95, Q_KEY_CODE_KP_7},
    {0xff96, Q_KEY_CODE_KP_4},        {0xff97, Q_KEY_CODE_KP_8},
    {0xff98, Q_KEY_CODE_KP_6},        {0xff99, Q_KEY_CODE_KP_2},
    {0xff9a, Q_KEY_CODE_KP_9},        {0xff9b, Q_KEY_CODE_KP_3},
    {0xff9c, Q_KEY_CODE_KP_1},        {0xff9d, Q_KEY_CODE_KP_5},
    {0xff9e, Q_KEY_CODE_KP_0},        {0xff9f, Q_KEY_CODE_KP_DECIMAL},
};

QKeyCode vnc_keysym_to_qcode(uint32_t sym)
{
    if (sym >= 'a' && sym <= 'z') {
        return letters[sym - 'a'];
    }
    if (sym >= 'A' && sym <= 'Z') {
        return letters[sym - 'A'];
    }
    if (sym < 0x80) {
        for (size_t i = 0; i < G_N_ELEMENTS(ascii_keys); i++) {
            if ((uint32_t)(unsigned char)ascii_keys[i].c == sym) {
                return ascii_keys[i].q;
            }
        }
        return Q_KEY_CODE_UNMAPPED;
    }
    if (sym >= 0xffbe && sym <= 0xffc7) { /* F1-F10 */
        return (QKeyCode)(Q_KEY_CODE_F1 + (sym - 0xffbe));
    }
    if (sym == 0xffc8) {
        return Q_KEY_CODE_F11;
    }
    if (sym == 0xffc9) {
        return Q_KEY_CODE_F12;
    }
    if (sym >= 0xffb0 && sym <= 0xffb9) {
        return (QKeyCode)(Q_KEY_CODE_KP_0 + (sym - 0xffb0));
    }
    for (size_t i = 0; i < G_N_ELEMENTS(special_keys); i++) {
        if (special_keys[i].sym == sym) {
            return special_keys[i].q;
        }
    }
    return Q_KEY_CODE_UNMAPPED;
}
