/*
 * Floating-point and SIMD work for tests/tcg/fpu-guest.sh: built statically on the host, run
 * on the host and in a guest under -accel tcg, and the two outputs compared. It goes through
 * glibc's x87 long double code (libm's sinl/expl/logl/powl/fmodl..., printf of long doubles),
 * the x87 control and status words (fesetround, fetestexcept), SSE3 intrinsics, and with the
 * argument "max" the SSSE3/SSE4.1/SSE4.2/POPCNT instructions the -cpu max model offers (glibc's
 * string functions pick their SSE4.2/SSSE3 versions there too).
 */
#include <fenv.h>
#include <math.h>
#include <pmmintrin.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static void x87(void)
{
    volatile long double a = 1.0L / 3.0L, b = 2.718281828459045235360287L;
    printf("ld %.21Lg %.21Lg %La\n", a, b, a * b);
    printf("sin %.21Lg cos %.21Lg tan %.21Lg\n", sinl(b), cosl(b), tanl(a));
    printf("exp %.21Lg log %.21Lg log2 %.21Lg log10 %.21Lg\n", expl(b), logl(b), log2l(a),
           log10l(b));
    printf("pow %.21Lg atan2 %.21Lg sqrt %.21Lg\n", powl(b, a), atan2l(a, -b), sqrtl(b));
    printf("fmod %.21Lg remainder %.21Lg\n", fmodl(1e30L, b), remainderl(1e20L, a));
    int e;
    long double m = frexpl(b * 1e300L, &e);
    printf("frexp %.21Lg %d ldexp %.21Lg\n", m, e, ldexpl(m, e - 7));
    static const int modes[] = {FE_TONEAREST, FE_DOWNWARD, FE_UPWARD, FE_TOWARDZERO};
    for (int i = 0; i < 4; i++) {
        fesetround(modes[i]);
        volatile long double x = -2.5L, y = 2.5L, z = 1.0L;
        volatile double d = 1.0;
        printf("round %d: %.0Lf %.0Lf %.21Lg %.17g %ld\n", i, rintl(x), nearbyintl(y), z / 3.0L,
               d / 3.0, lrintl(y + 0.25L));
    }
    fesetround(FE_TONEAREST);
    feclearexcept(FE_ALL_EXCEPT);
    volatile long double zero = 0.0L, big = 1e4000L;
    volatile long double r = 1.0L / zero;
    printf("div0 %Lg flags %#x\n", r, fetestexcept(FE_ALL_EXCEPT));
    feclearexcept(FE_ALL_EXCEPT);
    r = big * big;
    printf("overflow %Lg flags %#x\n", r, fetestexcept(FE_ALL_EXCEPT));
    feclearexcept(FE_ALL_EXCEPT);
    volatile double dz = 0.0;
    volatile double q = 0.0 / dz;
    printf("sse nan %g flags %#x\n", q, fetestexcept(FE_ALL_EXCEPT));
    feclearexcept(FE_ALL_EXCEPT);
    long double acc = 0;
    for (int i = 1; i <= 20000; i++) {
        acc += sinl((long double)i) / i;
    }
    printf("sum %.21Lg\n", acc);
}

static void sse3(void)
{
    __m128d a = _mm_set_pd(1.5, -2.25), b = _mm_set_pd(1e300, 3.0);
    __m128 c = _mm_set_ps(1.0f, 2.0f, 3.0f, 4.5f), d = _mm_set_ps(-8.0f, 0.5f, 1e30f, 7.0f);
    double o[2];
    float f[4];
    _mm_storeu_pd(o, _mm_hadd_pd(a, b));
    printf("haddpd %g %g\n", o[0], o[1]);
    _mm_storeu_pd(o, _mm_addsub_pd(a, b));
    printf("addsubpd %g %g\n", o[0], o[1]);
    _mm_storeu_ps(f, _mm_hsub_ps(c, d));
    printf("hsubps %g %g %g %g\n", f[0], f[1], f[2], f[3]);
    _mm_storeu_ps(f, _mm_movehdup_ps(d));
    printf("movshdup %g %g %g %g\n", f[0], f[1], f[2], f[3]);
    _mm_storeu_pd(o, _mm_movedup_pd(a));
    printf("movddup %g %g\n", o[0], o[1]);
    static const char text[] = "0123456789abcdefghijklmnopqrstuvwxyz";
    __m128i v = _mm_lddqu_si128((const __m128i *)(const void *)(text + 3));
    char t[17] = {0};
    _mm_storeu_si128((__m128i *)(void *)t, v);
    printf("lddqu %s\n", t);
}

__attribute__((target("ssse3,sse4.1,sse4.2,popcnt"))) static void sse4(void)
{
    static const char hay[] = "the quick brown fox jumps over the lazy dog, twice over";
    unsigned crc = 0;
    for (size_t i = 0; i < sizeof(hay); i++) {
        crc = __builtin_ia32_crc32qi(crc, (unsigned char)hay[i]);
    }
    printf("crc32c %08x popcnt %d\n", crc, __builtin_popcountll(0x123456789abcdef0ull));
    typedef char v16qi __attribute__((vector_size(16)));
    typedef long long v2di __attribute__((vector_size(16)));
    v16qi x, y;
    memcpy(&x, hay, 16);
    memcpy(&y, hay + 16, 16);
    v16qi sh = __builtin_ia32_pshufb128(x, y);
    v2di r;
    memcpy(&r, &sh, 16);
    printf("pshufb %016llx %016llx\n", (unsigned long long)r[0], (unsigned long long)r[1]);
    int idx = __builtin_ia32_pcmpistri128(x, y, 0x0c);
    printf("pcmpistri %d ptest %d\n", idx, __builtin_ia32_ptestz128((v2di)x, (v2di)y));
    printf("strstr %td strchr %td memchr %td strlen %zu\n", strstr(hay, "lazy") - hay,
           strchr(hay, 'j') - hay, (const char *)memchr(hay, 'w', sizeof(hay)) - hay,
           strlen(hay));
}

int main(int argc, char **argv)
{
    x87();
    sse3();
    if (argc > 1 && !strcmp(argv[1], "max")) {
        sse4();
    }
    return 0;
}
