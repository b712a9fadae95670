/*
 * The x87 transcendental instructions in software: FSIN, FCOS, FSINCOS, FPTAN, F2XM1, FYL2X,
 * FYL2XP1 and FPATAN, so that a guest sees the same bits and status word on every host (vendors'
 * x87 units differ in the last bits of these; see docs/host-dependence.md).
 *
 * The model is QEMU 7.2's TCG, the machine Vireo emulates:
 * - FSIN, FCOS, FSINCOS, FPTAN: the operand is rounded to double precision under the rounding
 *   control; beyond +-2^63 (infinities included) C2 is set and nothing else changes; otherwise
 *   the double function's value correctly rounded to the nearest double, widened under the
 *   precision control, is the result. (QEMU calls the host's libm there; glibc's sin, cos and
 *   tan nearly always round correctly, now and then they are off by up to about 0.55 ulp, and
 *   which cases depends on the glibc and the variant the host CPU selects: QEMU's last double
 *   bit then differs from Vireo's.) C2 is cleared; no exception flag is raised (not even for a
 *   signalling NaN), C0, C1 and C3 stay.
 * - F2XM1, FYL2X, FYL2XP1, FPATAN: the mathematical value rounded once to the 64-bit significand
 *   under the rounding control (precision control does not apply), always inexact unless the
 *   result is exact by the instruction's definition (zeros, F2XM1 of +-1, FYL2X of a power of
 *   two, FPATAN's quotient path); QEMU's special-operand rules (NaN propagation, invalid
 *   encodings, F2XM1 outside [-1, 1] and FYL2XP1 outside [sqrt(2)/2 - 1, sqrt(2) - 1] invalid);
 *   C0-C3 stay; no denormal-operand flag.
 * Both compute in a 256-bit binary floating-point format (BF below) with series after range
 * reduction; the constants pi and ln 2 come from series at first use.
 *
 * Stack faults are the architecture's (QEMU does not check tags): an empty source gives IE, SF
 * and the QNaN indefinite; a push onto a full stack gives IE, SF, C1 and the indefinite too.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include "x86-helper.h"

#define SW_IE 0x0001u
#define SW_ZE 0x0004u
#define SW_OE 0x0008u
#define SW_UE 0x0010u
#define SW_PE 0x0020u
#define SW_SF 0x0040u
#define SW_C1 0x0200u
#define SW_C2 0x0400u

#define J_BIT  0x8000000000000000ull
#define Q_BIT  0x4000000000000000ull
#define NL     4 /* 64-bit limbs in a BF significand */
#define BF_TOP (NL * 64)

typedef unsigned __int128 u128;

/* value = m * 2^(e - 256) with m[0] the most significant limb; m[0]'s top bit is set unless 0 */
typedef struct BF {
    bool neg;
    int32_t e;
    uint64_t m[NL];
} BF;

/* An 80-bit register: sign and biased exponent, significand with the explicit integer bit. */
typedef struct X80 {
    uint16_t se;
    uint64_t m;
} X80;

static bool bf_is_zero(const BF *a)
{
    return a->m[0] == 0;
}

static void bf_shl(uint64_t *m, int n)
{
    int w = n / 64, b = n % 64;
    for (int i = 0; i < NL; i++) {
        uint64_t hi = i + w < NL ? m[i + w] : 0;
        uint64_t lo = i + w + 1 < NL ? m[i + w + 1] : 0;
        m[i] = b ? hi << b | lo >> (64 - b) : hi;
    }
}

/* Shift right by n, ORing the bits shifted out into the lowest bit (the sticky bit). */
static void bf_shr_jam(uint64_t *m, int n)
{
    if (n <= 0) {
        return;
    }
    uint64_t lost = 0;
    if (n >= BF_TOP) {
        for (int i = 0; i < NL; i++) {
            lost |= m[i];
            m[i] = 0;
        }
        m[NL - 1] = lost != 0;
        return;
    }
    int w = n / 64, b = n % 64;
    for (int i = NL - w; i < NL; i++) {
        lost |= m[i];
    }
    if (b) {
        lost |= m[NL - 1 - w] << (64 - b);
    }
    for (int i = NL - 1; i >= 0; i--) {
        uint64_t hi = i - w >= 0 ? m[i - w] : 0;
        uint64_t hi2 = i - w - 1 >= 0 ? m[i - w - 1] : 0;
        m[i] = b ? hi >> b | hi2 << (64 - b) : hi;
    }
    m[NL - 1] |= lost != 0;
}

static void bf_norm(BF *a)
{
    int i = 0;
    while (i < NL && a->m[i] == 0) {
        i++;
    }
    if (i == NL) {
        a->e = 0;
        return;
    }
    int n = i * 64 + __builtin_clzll(a->m[i]);
    if (n) {
        bf_shl(a->m, n);
        a->e -= n;
    }
}

/* sig * 2^exp2 */
static BF bf_make(bool neg, uint64_t sig, int32_t exp2)
{
    BF r = {.neg = neg, .e = exp2 + BF_TOP, .m = {0}};
    r.m[NL - 1] = sig;
    bf_norm(&r);
    return r;
}

static BF bf_int(int64_t v)
{
    return bf_make(v < 0, v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v, 0);
}

static int bf_cmp_mag(const uint64_t *a, const uint64_t *b)
{
    for (int i = 0; i < NL; i++) {
        if (a[i] != b[i]) {
            return a[i] < b[i] ? -1 : 1;
        }
    }
    return 0;
}

static BF bf_add(BF a, BF b)
{
    if (bf_is_zero(&a)) {
        return b;
    }
    if (bf_is_zero(&b)) {
        return a;
    }
    if (a.e < b.e || (a.e == b.e && bf_cmp_mag(a.m, b.m) < 0)) {
        BF t = a;
        a = b;
        b = t;
    }
    int64_t d = (int64_t)a.e - b.e;
    bf_shr_jam(b.m, d > BF_TOP ? BF_TOP : (int)d);
    if (a.neg == b.neg) {
        unsigned carry = 0;
        for (int i = NL - 1; i >= 0; i--) {
            u128 s = (u128)a.m[i] + b.m[i] + carry;
            a.m[i] = (uint64_t)s;
            carry = (unsigned)(s >> 64);
        }
        if (carry) {
            bf_shr_jam(a.m, 1);
            a.m[0] |= J_BIT;
            a.e++;
        }
    } else {
        unsigned borrow = 0;
        for (int i = NL - 1; i >= 0; i--) {
            u128 s = (u128)a.m[i] - b.m[i] - borrow;
            a.m[i] = (uint64_t)s;
            borrow = (unsigned)(s >> 64) & 1;
        }
        bf_norm(&a);
    }
    return a;
}

static BF bf_neg(BF a)
{
    a.neg = !a.neg;
    return a;
}

static BF bf_sub(BF a, BF b)
{
    return bf_add(a, bf_neg(b));
}

static BF bf_mul(const BF *a, const BF *b)
{
    BF r = {.neg = a->neg != b->neg, .e = a->e + b->e, .m = {0}};
    if (bf_is_zero(a) || bf_is_zero(b)) {
        r.e = 0;
        return r;
    }
    uint64_t p[2 * NL] = {0};
    for (int i = NL - 1; i >= 0; i--) {
        uint64_t carry = 0;
        for (int j = NL - 1; j >= 0; j--) {
            u128 t = (u128)a->m[i] * b->m[j] + p[i + j + 1] + carry;
            p[i + j + 1] = (uint64_t)t;
            carry = (uint64_t)(t >> 64);
        }
        p[i] = carry;
    }
    uint64_t lost = 0;
    for (int i = NL; i < 2 * NL; i++) {
        lost |= p[i];
    }
    if (!(p[0] & J_BIT)) { /* the product is in [1/4, 1): one more bit from below */
        for (int i = 0; i < 2 * NL - 1; i++) {
            p[i] = p[i] << 1 | p[i + 1] >> 63;
        }
        p[2 * NL - 1] <<= 1;
        r.e--;
        lost = 0;
        for (int i = NL; i < 2 * NL; i++) {
            lost |= p[i];
        }
    }
    memcpy(r.m, p, sizeof(r.m));
    r.m[NL - 1] |= lost != 0;
    return r;
}

/* a / b, b nonzero: restoring division, one quotient bit at a time, remainder into the sticky */
static BF bf_div_exact(const BF *a, const BF *b)
{
    BF q = {.neg = a->neg != b->neg, .e = a->e - b->e + 1, .m = {0}};
    if (bf_is_zero(a)) {
        q.e = 0;
        return q;
    }
    uint64_t rem[NL + 1], den[NL + 1];
    rem[0] = 0;
    den[0] = 0;
    memcpy(rem + 1, a->m, sizeof(a->m));
    memcpy(den + 1, b->m, sizeof(b->m));
    for (int bit = 0; bit < BF_TOP; bit++) {
        int ge = 1;
        for (int i = 0; i <= NL; i++) {
            if (rem[i] != den[i]) {
                ge = rem[i] > den[i];
                break;
            }
        }
        if (ge) {
            unsigned borrow = 0;
            for (int i = NL; i >= 0; i--) {
                u128 s = (u128)rem[i] - den[i] - borrow;
                rem[i] = (uint64_t)s;
                borrow = (unsigned)(s >> 64) & 1;
            }
            q.m[bit / 64] |= 1ull << (63 - bit % 64);
        }
        for (int i = 0; i < NL; i++) {
            rem[i] = rem[i] << 1 | rem[i + 1] >> 63;
        }
        rem[NL] <<= 1;
    }
    uint64_t left = 0;
    for (int i = 0; i <= NL; i++) {
        left |= rem[i];
    }
    bf_norm(&q);
    q.m[NL - 1] |= left != 0;
    return q;
}

static BF bf_mul(const BF *a, const BF *b);

/* a / b, b nonzero, to about 250 bits: Newton's iteration for 1/b from a double estimate */
static BF bf_div(const BF *a, const BF *b)
{
    double bd = (double)(b->m[0] >> 11) / (double)(1ull << 53); /* in [1/2, 1) */
    double r0 = 1.0 / bd;                                       /* in (1, 2] */
    BF x = bf_make(false, (uint64_t)(r0 * (double)(1ull << 52)), -52 - b->e);
    BF bb = *b;
    bb.neg = false;
    BF one = bf_make(false, 1, 0);
    for (int i = 0; i < 4; i++) {
        BF p = bf_mul(&bb, &x);
        BF err = bf_sub(one, p);
        BF c = bf_mul(&x, &err);
        x = bf_add(x, c);
    }
    BF q = bf_mul(a, &x);
    q.neg = a->neg != b->neg;
    return q;
}

/* a / k for a small k: limb by limb, one limb more for the normalization, the rest sticky */
static BF bf_div_u(BF a, uint64_t k)
{
    uint64_t q[NL + 1];
    u128 rem = 0;
    for (int i = 0; i <= NL; i++) {
        u128 cur = rem << 64 | (i < NL ? a.m[i] : 0);
        q[i] = (uint64_t)(cur / k);
        rem = cur % k;
    }
    BF r = {.neg = a.neg, .e = a.e, .m = {0}};
    if (bf_is_zero(&a)) {
        return r;
    }
    int n = q[0] ? __builtin_clzll(q[0]) : 64 + __builtin_clzll(q[1]);
    uint64_t lost = rem != 0;
    if (n >= 64) { /* k >= 2^63 never happens here; q[0] == 0 only for k > a.m[0] */
        for (int i = 0; i < NL; i++) {
            q[i] = q[i + 1];
        }
        q[NL] = 0;
        n -= 64;
        r.e -= 64;
    }
    for (int i = 0; i < NL; i++) {
        r.m[i] = n ? q[i] << n | q[i + 1] >> (64 - n) : q[i];
    }
    lost |= n ? q[NL] << n : q[NL];
    r.e -= n;
    r.m[NL - 1] |= lost != 0;
    return r;
}

static BF bf_scale(BF a, int32_t k)
{
    if (!bf_is_zero(&a)) {
        a.e += k;
    }
    return a;
}

/* Sum a series until its terms are below 2^-(BF_TOP + 8) of the first one. */
static bool bf_small(const BF *term, const BF *ref)
{
    return bf_is_zero(term) || term->e < ref->e - BF_TOP - 8;
}

/* atan(z) by its Taylor series (|z| well below 1) or, with odd = false, atanh(z). */
static BF bf_atan_series(const BF *z, bool alternate)
{
    BF z2 = bf_mul(z, z), p = *z, sum = *z;
    for (uint64_t k = 3;; k += 2) {
        p = bf_mul(&p, &z2);
        BF t = bf_div_u(p, k);
        if (bf_small(&t, &sum)) {
            break;
        }
        sum = (alternate && (k & 2)) ? bf_sub(sum, t) : bf_add(sum, t);
    }
    return sum;
}

/* sqrt(a), a > 0: Newton's iteration from a double estimate */
static BF bf_sqrt(const BF *a)
{
    int32_t e = a->e;
    BF m = *a;
    m.e = e & 1 ? 1 : 2; /* m in [1/2, 4), a = m * 2^(e - m.e) with e - m.e even */
    int32_t half = (e - m.e) / 2;
    double d = (double)(m.m[0] >> 11) / (double)(1ull << 53) * (m.e == 1 ? 2.0 : 4.0);
    double s = 1.0;
    for (int i = 0; i < 60; i++) { /* a few steps of Newton in double: no libm needed */
        s = 0.5 * (s + d / s);
    }
    BF x = bf_make(false, (uint64_t)(s * (double)(1ull << 52)), -52);
    for (int i = 0; i < 4; i++) {
        BF q = bf_div(&m, &x);
        x = bf_scale(bf_add(x, q), -1);
    }
    return bf_scale(x, half);
}

/* atan(z) for 0 <= z <= 1: halve the angle three times (atan z = 2 atan(z / (1 + sqrt(1+z^2)))) */
static BF bf_atan_halving(BF z)
{
    BF one = bf_int(1);
    for (int i = 0; i < 3; i++) {
        BF z2 = bf_mul(&z, &z);
        BF s = bf_add(one, z2);
        BF den = bf_add(one, bf_sqrt(&s));
        z = bf_div(&z, &den);
    }
    return bf_scale(bf_atan_series(&z, true), 3);
}

/* The integer nearest to t (|t| < 2^62), ties away from zero */
static int64_t bf_nearest_int(const BF *t)
{
    if (bf_is_zero(t) || t->e < 0) {
        return 0;
    }
    uint64_t ip = t->e ? t->m[0] >> (64 - t->e) : 0; /* t->e <= 63 */
    uint64_t half = t->e < 64 ? (t->m[0] >> (63 - t->e)) & 1 : t->m[1] >> 63;
    ip += half;
    return t->neg ? -(int64_t)ip : (int64_t)ip;
}

static BF atan_tab[17]; /* atan(k/16) */

/* atan(z) for 0 <= z <= 1: atan(k/16) + atan((z - k/16) / (1 + z k/16)), k = nearest to 16 z */
static BF bf_atan(BF z)
{
    BF z16 = bf_scale(z, 4);
    int64_t k = bf_nearest_int(&z16);
    if (k == 0) {
        return bf_atan_series(&z, true);
    }
    BF c = bf_make(false, (uint64_t)k, -4);
    BF zc = bf_mul(&z, &c);
    BF den = bf_add(bf_int(1), zc);
    BF num = bf_sub(z, c);
    BF w = bf_div(&num, &den);
    BF a = bf_atan_series(&w, true);
    return bf_add(atan_tab[k], a);
}

static BF c_pi, c_ln2, c_log2e, c_2_pi;
static pthread_once_t consts_once = PTHREAD_ONCE_INIT;

static void consts_init(void)
{
    /* pi = 16 atan(1/5) - 4 atan(1/239); ln 2 = 2 atanh(1/3) */
    BF one = bf_int(1);
    BF a = bf_div_u(one, 5), b = bf_div_u(one, 239), c = bf_div_u(one, 3);
    c_pi = bf_sub(bf_scale(bf_atan_series(&a, true), 4), bf_scale(bf_atan_series(&b, true), 2));
    c_ln2 = bf_scale(bf_atan_series(&c, false), 1);
    c_log2e = bf_div(&one, &c_ln2);
    BF two = bf_int(2);
    c_2_pi = bf_div(&two, &c_pi);
    for (int k = 1; k <= 16; k++) {
        atan_tab[k] = bf_atan_halving(bf_make(false, (uint64_t)k, -4));
    }
}

/* ln(1 + u), u > -1: 2 atanh(u / (2 + u)) */
static BF bf_log1p(const BF *u)
{
    BF den = bf_add(bf_int(2), *u);
    BF z = bf_div(u, &den);
    return bf_scale(bf_atan_series(&z, false), 1);
}

/* sin and cos of r, |r| <= about pi/4 */
static void bf_sincos_small(const BF *r, BF *s, BF *c)
{
    BF r2 = bf_mul(r, r);
    BF t = *r;
    *s = *r;
    for (uint64_t k = 2;; k += 2) {
        t = bf_mul(&t, &r2);
        t = bf_div_u(t, k * (k + 1));
        t.neg = !t.neg;
        if (bf_small(&t, s)) {
            break;
        }
        *s = bf_add(*s, t);
    }
    BF one = bf_int(1);
    t = one;
    *c = one;
    for (uint64_t k = 1;; k += 2) {
        t = bf_mul(&t, &r2);
        t = bf_div_u(t, k * (k + 1));
        t.neg = !t.neg;
        if (bf_small(&t, c)) {
            break;
        }
        *c = bf_add(*c, t);
    }
}

/* Rounding control values */
enum { RC_NEAR, RC_DOWN, RC_UP, RC_CHOP };

/*
 * Round a to p significant bits with normal exponents emin..emax (value 1.f * 2^E) under rc.
 * inexact forces the result to count as inexact (a is an approximation). Returns the rounded
 * value as sig * 2^*uexp (sig < 2^p, or 2^p after a carry); *inf on overflow to infinity.
 */
static uint64_t bf_round(const BF *a, int rc, int p, int emin, int emax, bool inexact,
                         int32_t *uexp, bool *inf, unsigned *flags)
{
    *inf = false;
    if (bf_is_zero(a)) {
        *uexp = 0;
        return 0;
    }
    int32_t E = a->e - 1;
    int32_t ue = (E < emin ? emin : E) - p + 1; /* exponent of the last kept bit */
    int32_t keep = a->e - ue;                   /* bits of m kept, <= p */
    uint64_t q;
    int cmp_half; /* remainder against half an ulp: -1, 0, 1 */
    bool rest;    /* remainder nonzero */
    if (keep <= 0) {
        q = 0;
        rest = true;
        if (keep < 0) {
            cmp_half = -1;
        } else {
            bool exact_half = a->m[0] == J_BIT && !a->m[1] && !a->m[2] && !a->m[3];
            cmp_half = exact_half ? 0 : 1;
        }
    } else {
        uint64_t m[NL];
        memcpy(m, a->m, sizeof(m));
        q = m[0] >> (64 - keep);
        bf_shl(m, keep); /* the remainder, scaled so that half an ulp is the top bit */
        rest = m[0] || m[1] || m[2] || m[3];
        if (!(m[0] & J_BIT)) {
            cmp_half = -1;
        } else {
            cmp_half = (m[0] == J_BIT && !m[1] && !m[2] && !m[3]) ? 0 : 1;
        }
    }
    if (inexact && !rest) { /* an approximation that happens to end in zeros: just above */
        rest = true;
        cmp_half = keep <= 0 ? cmp_half : -1;
    } else if (inexact && cmp_half == 0) {
        cmp_half = 1;
    }
    bool up = false;
    if (rest) {
        switch (rc) {
        case RC_NEAR:
            up = cmp_half > 0 || (cmp_half == 0 && (q & 1));
            break;
        case RC_DOWN:
            up = a->neg;
            break;
        case RC_UP:
            up = !a->neg;
            break;
        default:
            break;
        }
        *flags |= SW_PE;
        if (E < emin) {
            *flags |= SW_UE;
        }
    }
    q += up;
    if (p < 64 && q >> p) {
        q >>= 1;
        ue++;
    } else if (p == 64 && up && q == 0) {
        q = J_BIT;
        ue++;
    }
    /* the result's exponent (1.f form): the top bit of q */
    int32_t re = q ? ue + (63 - __builtin_clzll(q)) : 0;
    if (q && re > emax) {
        *flags |= SW_OE | SW_PE;
        bool to_inf = rc == RC_NEAR || (rc == RC_UP && !a->neg) || (rc == RC_DOWN && a->neg);
        if (to_inf) {
            *inf = true;
            return 0;
        }
        *uexp = emax - p + 1;
        return p == 64 ? ~0ull : (1ull << p) - 1;
    }
    *uexp = ue;
    return q;
}

#define X80_EMIN (-16382)
#define X80_EMAX 16383

static X80 x80_from_round(bool neg, uint64_t q, int32_t ue, bool inf)
{
    X80 r = {.se = neg ? 0x8000 : 0, .m = 0};
    if (inf) {
        r.se |= 0x7fff;
        r.m = J_BIT;
    } else if (q) {
        /* q < 2^64; a normal value has q's top bit at 63 */
        int top = 63 - __builtin_clzll(q);
        int32_t E = ue + top;
        if (E < X80_EMIN) {
            r.m = q << (ue - (X80_EMIN - 63));
        } else {
            r.m = q << (63 - top);
            r.se |= (uint16_t)(E + 16383);
        }
    }
    return r;
}

/* Round a to the register format under rc, raising PE/UE/OE in *flags. */
static X80 x80_round(const BF *a, int rc, bool inexact, unsigned *flags)
{
    int32_t ue;
    bool inf;
    uint64_t q = bf_round(a, rc, 64, X80_EMIN, X80_EMAX, inexact, &ue, &inf, flags);
    return x80_from_round(a->neg, q, ue, inf);
}

static BF bf_from_x80(X80 x)
{
    int32_t e = x.se & 0x7fff;
    return bf_make(x.se >> 15, x.m, (e ? e : 1) - 16383 - 63);
}

/* QEMU 7.2's classification of 80-bit operands */
static unsigned x_exp(X80 x)
{
    return x.se & 0x7fff;
}
static bool x_neg(X80 x)
{
    return x.se >> 15;
}
static bool x_invalid(X80 x)
{
    return !(x.m & J_BIT) && x_exp(x) != 0;
}
static bool x_nan(X80 x)
{
    return x_exp(x) == 0x7fff && (x.m << 1) != 0;
}
static bool x_snan(X80 x)
{
    return x_exp(x) == 0x7fff && !(x.m & Q_BIT) && (x.m & (Q_BIT - 1)) != 0;
}
static bool x_inf(X80 x)
{
    return x_exp(x) == 0x7fff && x.m == J_BIT;
}
static bool x_zero(X80 x)
{
    return x_exp(x) == 0 && x.m == 0;
}
static X80 x_quiet(X80 x)
{
    x.m |= Q_BIT;
    return x;
}
static X80 x_chs(X80 x)
{
    x.se ^= 0x8000;
    return x;
}

static const X80 x_default_nan = {0xffff, 0xc000000000000000ull};
static const X80 x_one = {0x3fff, J_BIT};

/* ----- FSIN, FCOS, FSINCOS, FPTAN: through double precision ----- */

enum { F_SIN = 1, F_COS = 2, F_TAN = 4 };

/*
 * The double-precision path: *outs (sin, cos, tan as asked) for x. Returns false when the
 * operand is out of range (|x| > 2^63 after rounding to double): C2 is set, nothing else.
 */
static bool trig(X80 x, int rc, int pc_bits, unsigned which, X80 *out_sin, X80 *out_cos,
                 X80 *out_tan)
{
    unsigned junk = 0;
    if (x_invalid(x)) {
        *out_sin = *out_cos = *out_tan = x_default_nan;
        return true;
    }
    if (x_nan(x)) {
        /* through a double NaN: the top 52 fraction bits survive, quieted */
        X80 n = {x.se, J_BIT | Q_BIT | (x.m & 0x3ffffffffffff800ull)};
        *out_sin = *out_cos = *out_tan = n;
        return true;
    }
    if (x_exp(x) == 0x7fff) {
        return false; /* infinity */
    }
    BF a = bf_from_x80(x);
    int32_t ue;
    bool inf;
    uint64_t q = bf_round(&a, rc, 53, -1022, 1023, false, &ue, &inf, &junk);
    if (inf) {
        return false;
    }
    BF d = bf_make(x_neg(x), q, ue); /* the double operand, exactly */
    if (!bf_is_zero(&d) &&
        (d.e > 64 || (d.e == 64 && (d.m[0] != J_BIT || d.m[1] || d.m[2] || d.m[3])))) {
        return false; /* beyond 2^63 */
    }
    if (bf_is_zero(&d)) {
        X80 z = {x_neg(x) ? 0x8000 : 0, 0};
        *out_sin = *out_tan = z;
        *out_cos = x_one;
        return true;
    }
    pthread_once(&consts_once, consts_init);
    /* k = nearest integer to d * 2/pi; r = d - k pi/2 */
    BF t = bf_mul(&d, &c_2_pi);
    int64_t k = 0;
    if (t.e > 0) {
        uint64_t ip = t.m[0] >> (64 - t.e); /* t.e <= 64 */
        uint64_t frac_top = t.e < 64 ? (t.m[0] >> (63 - t.e)) & 1 : t.m[1] >> 63;
        ip += frac_top;
        k = t.neg ? -(int64_t)ip : (int64_t)ip;
    }
    BF kb = bf_int(k), pio2 = bf_scale(c_pi, -1);
    BF kp = bf_mul(&kb, &pio2);
    BF r = bf_sub(d, kp);
    BF s, c;
    bf_sincos_small(&r, &s, &c);
    unsigned n = (unsigned)k & 3;
    BF sv = n == 0 ? s : n == 1 ? c : n == 2 ? bf_neg(s) : bf_neg(c);
    BF cv = n == 0 ? c : n == 1 ? bf_neg(s) : n == 2 ? bf_neg(c) : s;
    /* each value rounded to the nearest double (the host libm's), then widened exactly */
    BF outs[3] = {sv, cv, {0}};
    if (which & F_TAN) {
        outs[2] = bf_div(&sv, &cv);
    }
    X80 *dst[3] = {out_sin, out_cos, out_tan};
    for (int i = 0; i < 3; i++) {
        if (!(which & (1u << i))) {
            continue;
        }
        q = bf_round(&outs[i], RC_NEAR, 53, -1022, 1023, true, &ue, &inf, &junk);
        BF dv = bf_make(outs[i].neg, q, ue);
        /* widened under the precision control (24 or 53 bits round the double again) */
        q = bf_round(&dv, rc, pc_bits, X80_EMIN, X80_EMAX, false, &ue, &inf, &junk);
        *dst[i] = x80_from_round(dv.neg, q, ue, inf);
    }
    return true;
}

/* ----- F2XM1, FYL2X, FYL2XP1, FPATAN ----- */

static X80 do_f2xm1(X80 x, int rc, unsigned *flags)
{
    if (x_invalid(x)) {
        *flags |= SW_IE;
        return x_default_nan;
    }
    if (x_nan(x)) {
        if (x_snan(x)) {
            *flags |= SW_IE;
            return x_quiet(x);
        }
        return x;
    }
    unsigned e = x_exp(x);
    if (e > 0x3fff || (e == 0x3fff && x.m != J_BIT)) {
        *flags |= SW_IE; /* outside [-1, 1] */
        return x_default_nan;
    }
    if (e == 0x3fff) {
        return x_neg(x) ? (X80){0xbffe, J_BIT} : x; /* 2^1 - 1, 2^-1 - 1 */
    }
    if (x_zero(x)) {
        return x;
    }
    pthread_once(&consts_once, consts_init);
    BF a = bf_from_x80(x);
    BF t = bf_mul(&a, &c_ln2);
    /* expm1(t) = t + t^2/2! + ... */
    BF term = t, sum = t;
    for (uint64_t n = 2;; n++) {
        term = bf_mul(&term, &t);
        term = bf_div_u(term, n);
        if (bf_small(&term, &sum)) {
            break;
        }
        sum = bf_add(sum, term);
    }
    return x80_round(&sum, rc, true, flags);
}

/* NaN operands of the two-operand instructions, in QEMU's order; true if it decided */
static bool nan_pair(X80 x, X80 y, X80 *res, unsigned *flags)
{
    if (x_snan(x)) {
        *flags |= SW_IE;
        *res = x_quiet(x);
    } else if (x_snan(y)) {
        *flags |= SW_IE;
        *res = x_quiet(y);
    } else if (x_invalid(x) || x_invalid(y)) {
        *flags |= SW_IE;
        *res = x_default_nan;
    } else if (x_nan(x)) {
        *res = x;
    } else if (x_nan(y)) {
        *res = y;
    } else {
        return false;
    }
    return true;
}

/* x (ST0) > 0 finite, not 1; log2(x) as BF; exact (a power of two) tells no rounding error */
static BF log2_of(X80 x, bool *exact)
{
    BF a = bf_from_x80(x);
    int32_t E = a.e - 1; /* a = M * 2^E, M in [1, 2) */
    BF m = a;
    m.e = 1;
    if (m.m[0] > 0xb504f333f9de6484ull) { /* M > sqrt(2): use M/2 and E + 1 */
        m.e = 0;
        E++;
    }
    BF um = bf_sub(m, bf_int(1));
    *exact = bf_is_zero(&um);
    BF l = bf_int(E);
    if (!*exact) {
        BF ln = bf_log1p(&um);
        l = bf_add(l, bf_mul(&ln, &c_log2e));
    }
    return l;
}

static X80 do_fyl2x(X80 x, X80 y, int rc, unsigned *flags)
{
    X80 res;
    if (nan_pair(x, y, &res, flags)) {
        return res;
    }
    if (x_neg(x) && !x_zero(x)) {
        *flags |= SW_IE;
        return x_default_nan;
    }
    if (x_inf(y)) {
        if (x_exp(x) == 0x3fff && x.m == J_BIT) {
            *flags |= SW_IE;
            return x_default_nan;
        }
        bool less = x_exp(x) < 0x3fff; /* x < 1 (x is not negative here) */
        return less ? x_chs(y) : y;
    }
    if (x_inf(x)) {
        if (x_zero(y)) {
            *flags |= SW_IE;
            return x_default_nan;
        }
        return x_neg(y) ? x_chs(x) : x;
    }
    if (x_zero(x)) {
        if (x_zero(y)) {
            *flags |= SW_IE;
            return x_default_nan;
        }
        *flags |= SW_ZE;
        return (X80){x_neg(y) ? 0x7fff : 0xffff, J_BIT};
    }
    if (x_zero(y)) {
        return x_exp(x) < 0x3fff ? x_chs(y) : y;
    }
    if (x_exp(x) == 0x3fff && x.m == J_BIT) {
        return (X80){x_neg(y) ? 0x8000 : 0, 0};
    }
    pthread_once(&consts_once, consts_init);
    bool exact;
    BF l = log2_of(x, &exact);
    BF b = bf_from_x80(y);
    BF r = bf_mul(&l, &b);
    return x80_round(&r, rc, !exact, flags);
}

static X80 do_fyl2xp1(X80 x, X80 y, int rc, unsigned *flags)
{
    X80 res;
    if (nan_pair(x, y, &res, flags)) {
        return res;
    }
    unsigned e = x_exp(x);
    /* |x| within sqrt(2)/2 - 1 .. sqrt(2) - 1 (the limits' 64-bit significands, truncated) */
    if (e > 0x3ffd ||
        (e == 0x3ffd && x.m > (x_neg(x) ? 0x95f619980c4336f7ull : 0xd413cccfe7799211ull))) {
        *flags |= SW_IE;
        return x_default_nan;
    }
    if (x_zero(x) || x_zero(y) || x_exp(y) == 0x7fff) {
        /* the product x * y is the result: zeros and infinities only */
        bool neg = x_neg(x) != x_neg(y);
        if (x_exp(y) == 0x7fff) {
            if (x_zero(x)) {
                *flags |= SW_IE;
                return x_default_nan;
            }
            return (X80){(uint16_t)(neg ? 0xffff : 0x7fff), J_BIT};
        }
        return (X80){neg ? 0x8000 : 0, 0};
    }
    pthread_once(&consts_once, consts_init);
    BF u = bf_from_x80(x);
    BF ln = bf_log1p(&u);
    BF l = bf_mul(&ln, &c_log2e);
    BF b = bf_from_x80(y);
    BF r = bf_mul(&l, &b);
    return x80_round(&r, rc, true, flags);
}

/* FPATAN: atan2(y = ST1, x = ST0) */
static X80 do_fpatan(X80 x, X80 y, int rc, unsigned *flags)
{
    X80 res;
    if (nan_pair(x, y, &res, flags)) {
        return res;
    }
    if (x_zero(y) && !x_neg(x)) {
        return y;
    }
    pthread_once(&consts_once, consts_init);
    BF bx = bf_from_x80(x), by = bf_from_x80(y);
    /* QEMU decides by the biased exponent fields (0 for denormals) */
    int32_t ex = (int32_t)x_exp(x), ey = (int32_t)x_exp(y);
    if (!x_neg(x) && ((x_inf(x) && !x_inf(y)) || ex - ey >= 80)) {
        /* y/x rounded; a finite nonzero exact quotient is nudged towards zero (atan z < z) */
        if (x_inf(x)) {
            return (X80){x_neg(y) ? 0x8000 : 0, 0};
        }
        BF q = bf_div_exact(&by, &bx);
        bool exact = !(q.m[NL - 1] & 1) || q.m[NL - 1] == 0; /* sticky clear: exact */
        if (exact) {
            /* subtract one unit of the last BF bit: a value just below |q| */
            unsigned borrow = 1;
            for (int i = NL - 1; i >= 0 && borrow; i--) {
                borrow = q.m[i] == 0;
                q.m[i]--;
            }
            bf_norm(&q);
        }
        return x80_round(&q, rc, true, flags);
    }
    BF r;
    BF pi = c_pi, pio2 = bf_scale(c_pi, -1);
    if (x_zero(y)) {
        r = pi; /* x negative */
    } else if (x_inf(y)) {
        if (x_inf(x)) {
            r = x_neg(x) ? bf_scale(bf_add(pi, pio2), -1) : bf_scale(pi, -2);
        } else {
            r = pio2;
        }
    } else if (x_zero(x) || ey - ex >= 80) {
        r = pio2;
    } else if (x_inf(x) || ex - ey >= 80) {
        r = pi; /* x negative */
    } else {
        bx.neg = by.neg = false;
        bool swap = bx.e != by.e ? bx.e < by.e : bf_cmp_mag(bx.m, by.m) < 0;
        if (!swap) {
            BF z = bf_div(&by, &bx);
            BF a = bf_atan(z);
            r = x_neg(x) ? bf_sub(pi, a) : a;
        } else {
            BF z = bf_div(&bx, &by);
            BF a = bf_atan(z);
            r = x_neg(x) ? bf_add(pio2, a) : bf_sub(pio2, a);
        }
    }
    r.neg = x_neg(y);
    return x80_round(&r, rc, true, flags);
}

/* ----- the register stack in the FNSAVE image ----- */

typedef struct Stack {
    uint16_t *sw, *tw;
    uint8_t (*st)[10];
    unsigned top;
} Stack;

static unsigned phys(const Stack *s, unsigned i)
{
    return (s->top + i) & 7;
}

static bool empty(const Stack *s, unsigned i)
{
    return ((*s->tw >> (2 * phys(s, i))) & 3) == 3;
}

static X80 get(const Stack *s, unsigned i)
{
    X80 x;
    memcpy(&x.m, s->st[i], 8);
    memcpy(&x.se, s->st[i] + 8, 2);
    return x;
}

static unsigned tag_for(X80 x)
{
    unsigned e = x_exp(x);
    if (e == 0x7fff) {
        return 2;
    }
    if (e == 0) {
        return x.m ? 2 : 1;
    }
    return (x.m & J_BIT) ? 0 : 2;
}

static void put(Stack *s, unsigned i, X80 x)
{
    memcpy(s->st[i], &x.m, 8);
    memcpy(s->st[i] + 8, &x.se, 2);
    unsigned p = phys(s, i);
    *s->tw = (uint16_t)((*s->tw & ~(3u << (2 * p))) | tag_for(x) << (2 * p));
}

/* The image lists ST(0)..ST(7); a push or pop rotates it and moves TOP. */
static void push(Stack *s)
{
    uint8_t last[10];
    memcpy(last, s->st[7], 10);
    memmove(s->st[1], s->st[0], 7 * 10);
    memcpy(s->st[0], last, 10);
    s->top = (s->top - 1) & 7;
}

static void pop(Stack *s)
{
    uint8_t first[10];
    unsigned p = phys(s, 0);
    *s->tw |= (uint16_t)(3u << (2 * p));
    memcpy(first, s->st[0], 10);
    memmove(s->st[0], s->st[1], 7 * 10);
    memcpy(s->st[7], first, 10);
    s->top = (s->top + 1) & 7;
}

static const X80 x_indefinite = {0xffff, 0xc000000000000000ull};

bool x87_soft_exec(unsigned modrm, uint16_t cw, uint16_t *sw, uint16_t *tw, uint8_t st[8][10])
{
    static const uint8_t ops[16] = {
        /* F0 f2xm1 */ 1,          /* F1 fyl2x */ 2,
        /* F2 fptan */ 1,          /* F3 fpatan */ 2,      [9] = 2 /* F9 fyl2xp1 */,
        [11] = 1 /* FB fsincos */, [14] = 1 /* FE fsin */, [15] = 1 /* FF fcos */};
    if (modrm < 0xf0 || !ops[modrm - 0xf0]) {
        return false;
    }
    Stack s = {.sw = sw, .tw = tw, .st = st, .top = (*sw >> 11) & 7};
    int rc = (cw >> 10) & 3;
    int pc_bits = ((cw >> 8) & 3) == 0 ? 24 : ((cw >> 8) & 3) == 2 ? 53 : 64;
    unsigned nargs = ops[modrm - 0xf0];
    bool pushes = modrm == 0xf2 || modrm == 0xfb;
    unsigned flags = 0;
    uint16_t out_sw = *sw;

    if (empty(&s, 0) || (nargs == 2 && empty(&s, 1))) {
        /* stack underflow: the indefinite where the result goes */
        out_sw = (uint16_t)((out_sw & ~SW_C1) | SW_IE | SW_SF);
        if (nargs == 2) {
            put(&s, 1, x_indefinite);
            pop(&s);
        } else {
            put(&s, 0, x_indefinite);
            if (pushes) {
                push(&s);
                put(&s, 0, x_indefinite);
            }
        }
        *sw = (uint16_t)((out_sw & ~0x3800u) | s.top << 11);
        return true;
    }
    if (pushes && !empty(&s, 7)) {
        /* stack overflow (only when the operand is in range, as for the result's push) */
        X80 junk[3];
        if (trig(get(&s, 0), rc, 64, 0, &junk[0], &junk[1], &junk[2])) {
            out_sw = (uint16_t)(out_sw | SW_IE | SW_SF | SW_C1);
            put(&s, 0, x_indefinite);
            push(&s);
            put(&s, 0, x_indefinite);
            *sw = (uint16_t)((out_sw & ~0x3800u) | s.top << 11);
            return true;
        }
    }
    X80 x = get(&s, 0);
    switch (modrm) {
    case 0xf0:
        put(&s, 0, do_f2xm1(x, rc, &flags));
        break;
    case 0xf1:
    case 0xf3:
    case 0xf9: {
        X80 y = get(&s, 1);
        X80 r = modrm == 0xf1   ? do_fyl2x(x, y, rc, &flags)
                : modrm == 0xf3 ? do_fpatan(x, y, rc, &flags)
                                : do_fyl2xp1(x, y, rc, &flags);
        put(&s, 1, r);
        pop(&s);
        break;
    }
    default: { /* fptan, fsincos, fsin, fcos */
        unsigned which = modrm == 0xf2   ? F_TAN
                         : modrm == 0xfb ? F_SIN | F_COS
                         : modrm == 0xfe ? F_SIN
                                         : F_COS;
        X80 rs, rcos, rt;
        if (!trig(x, rc, pc_bits, which, &rs, &rcos, &rt)) {
            out_sw |= SW_C2;
            break;
        }
        out_sw &= (uint16_t)~SW_C2;
        if (modrm == 0xf2) {
            put(&s, 0, rt);
            push(&s);
            put(&s, 0, x_one);
        } else if (modrm == 0xfb) {
            put(&s, 0, rs);
            push(&s);
            put(&s, 0, rcos);
        } else {
            put(&s, 0, modrm == 0xfe ? rs : rcos);
        }
        break;
    }
    }
    *sw = (uint16_t)(((out_sw | flags) & ~0x3800u) | s.top << 11);
    return true;
}
