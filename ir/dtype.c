/* ir/dtype.c: element types, and scalar load/store through double or int64 that
 * lets reference kernels handle every dtype with one loop. */
#include "ir.h"

#include <math.h>
#include <string.h>

static const struct {
    const char *name;
    size_t size;
} dtype_table[D2_DTYPE_COUNT] = {
    [D2_DTYPE_UNDEFINED] = { "undefined", 0 },
#define D2_X(ID, text, bytes) [D2_DTYPE_##ID] = { text, bytes },
    D2_DTYPE_LIST(D2_X)
#undef D2_X
};

size_t d2_dtype_size(enum d2_dtype t)
{
    return (unsigned)t < D2_DTYPE_COUNT ? dtype_table[t].size : 0;
}

const char *d2_dtype_name(enum d2_dtype t)
{
    return (unsigned)t < D2_DTYPE_COUNT ? dtype_table[t].name : "invalid";
}

bool d2_dtype_from_name(const char *name, enum d2_dtype *out)
{
    for (int t = 0; t < D2_DTYPE_COUNT; t++) {
        if (strcmp(dtype_table[t].name, name) == 0) {
            *out = (enum d2_dtype)t;
            return true;
        }
    }
    return false;
}

bool d2_dtype_is_float(enum d2_dtype t)
{
    return t == D2_DTYPE_F32 || t == D2_DTYPE_F16 || t == D2_DTYPE_BF16 || t == D2_DTYPE_F64;
}

bool d2_dtype_is_integer(enum d2_dtype t)
{
    switch (t) {
    case D2_DTYPE_I64: case D2_DTYPE_I32: case D2_DTYPE_I16: case D2_DTYPE_I8:
    case D2_DTYPE_U8: case D2_DTYPE_U16: case D2_DTYPE_U32: case D2_DTYPE_U64:
        return true;
    default:
        return false;
    }
}

bool d2_dtype_is_signed(enum d2_dtype t)
{
    switch (t) {
    case D2_DTYPE_I64: case D2_DTYPE_I32: case D2_DTYPE_I16: case D2_DTYPE_I8:
        return true;
    default:
        return d2_dtype_is_float(t);
    }
}

/* ---- half precision ---------------------------------------------------- */

float d2_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h >> 15) << 31;
    int exponent = (h >> 10) & 0x1f;
    uint32_t mantissa = h & 0x3ff;
    uint32_t bits;
    float f;
    if (exponent == 0x1f) {
        bits = sign | 0x7f800000u | (mantissa << 13); /* inf or nan */
    } else if (exponent == 0) {
        /* zero or subnormal: value = mantissa * 2^-24 */
        f = ldexpf((float)mantissa, -24);
        return sign ? -f : f;
    } else {
        bits = sign | ((uint32_t)(exponent - 15 + 127) << 23) | (mantissa << 13);
    }
    memcpy(&f, &bits, sizeof f);
    return f;
}

uint16_t d2_f32_to_f16(float f)
{
    uint32_t bits;
    uint16_t sign;
    float a;
    memcpy(&bits, &f, sizeof bits);
    sign = (uint16_t)((bits >> 16) & 0x8000);
    a = fabsf(f);
    if (isnan(f))
        return (uint16_t)(sign | 0x7e00);
    if (a >= 65520.0f) /* rounds to infinity */
        return (uint16_t)(sign | 0x7c00);
    if (a < 6.103515625e-05f) {
        /* subnormal half: units of 2^-24, nearbyint rounds half to even */
        return (uint16_t)(sign | (uint16_t)nearbyintf(a * 16777216.0f));
    }
    {
        uint32_t abits = bits & 0x7fffffffu;
        uint32_t exponent = (abits >> 23) - 127 + 15;
        uint32_t mantissa = abits & 0x7fffff;
        uint32_t half = (exponent << 10) | (mantissa >> 13);
        uint32_t rest = mantissa & 0x1fff;
        if (rest > 0x1000 || (rest == 0x1000 && (half & 1)))
            half++; /* carry into the exponent is correct rounding */
        return (uint16_t)(sign | half);
    }
}

float d2_bf16_to_f32(uint16_t h)
{
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

uint16_t d2_f32_to_bf16(float f)
{
    uint32_t bits;
    memcpy(&bits, &f, sizeof bits);
    if (isnan(f))
        return (uint16_t)((bits >> 16) | 0x40);
    bits += 0x7fff + ((bits >> 16) & 1);
    return (uint16_t)(bits >> 16);
}

/* ---- scalar access ------------------------------------------------------ */

double d2_load_f64(const void *data, enum d2_dtype t, size_t i)
{
    switch (t) {
    case D2_DTYPE_F32: return ((const float *)data)[i];
    case D2_DTYPE_F16: return d2_f16_to_f32(((const uint16_t *)data)[i]);
    case D2_DTYPE_BF16: return d2_bf16_to_f32(((const uint16_t *)data)[i]);
    case D2_DTYPE_F64: return ((const double *)data)[i];
    case D2_DTYPE_I64: return (double)((const int64_t *)data)[i];
    case D2_DTYPE_I32: return ((const int32_t *)data)[i];
    case D2_DTYPE_I16: return ((const int16_t *)data)[i];
    case D2_DTYPE_I8: return ((const int8_t *)data)[i];
    case D2_DTYPE_U8: return ((const uint8_t *)data)[i];
    case D2_DTYPE_U16: return ((const uint16_t *)data)[i];
    case D2_DTYPE_U32: return ((const uint32_t *)data)[i];
    case D2_DTYPE_U64: return (double)((const uint64_t *)data)[i];
    case D2_DTYPE_BOOL: return ((const uint8_t *)data)[i] ? 1.0 : 0.0;
    default: return 0.0;
    }
}

/* Float to integer conversion that is defined for every input (C leaves
 * out-of-range conversions undefined): NaN gives 0, values saturate. */
static int64_t f64_to_i64_saturating(double v)
{
    if (isnan(v))
        return 0;
    if (v >= 9223372036854775807.0)
        return INT64_MAX;
    if (v <= -9223372036854775808.0)
        return INT64_MIN;
    return (int64_t)v;
}

static uint64_t f64_to_u64_wrapping(double v)
{
    if (isnan(v))
        return 0;
    if (v >= 18446744073709551615.0)
        return UINT64_MAX;
    if (v < 0) /* negative to unsigned: go through int64 and wrap, as numpy does */
        return (uint64_t)f64_to_i64_saturating(v);
    return (uint64_t)v;
}

void d2_store_f64(void *data, enum d2_dtype t, size_t i, double v)
{
    switch (t) {
    case D2_DTYPE_F32: ((float *)data)[i] = (float)v; break;
    case D2_DTYPE_F16: ((uint16_t *)data)[i] = d2_f32_to_f16((float)v); break;
    case D2_DTYPE_BF16: ((uint16_t *)data)[i] = d2_f32_to_bf16((float)v); break;
    case D2_DTYPE_F64: ((double *)data)[i] = v; break;
    case D2_DTYPE_BOOL: ((uint8_t *)data)[i] = v != 0.0; break;
    case D2_DTYPE_U64: ((uint64_t *)data)[i] = f64_to_u64_wrapping(v); break;
    default: d2_store_i64(data, t, i, f64_to_i64_saturating(v)); break;
    }
}

int64_t d2_load_i64(const void *data, enum d2_dtype t, size_t i)
{
    switch (t) {
    case D2_DTYPE_I64: return ((const int64_t *)data)[i];
    case D2_DTYPE_I32: return ((const int32_t *)data)[i];
    case D2_DTYPE_I16: return ((const int16_t *)data)[i];
    case D2_DTYPE_I8: return ((const int8_t *)data)[i];
    case D2_DTYPE_U8: return ((const uint8_t *)data)[i];
    case D2_DTYPE_U16: return ((const uint16_t *)data)[i];
    case D2_DTYPE_U32: return ((const uint32_t *)data)[i];
    case D2_DTYPE_U64: return (int64_t)((const uint64_t *)data)[i];
    case D2_DTYPE_BOOL: return ((const uint8_t *)data)[i] != 0;
    default: return f64_to_i64_saturating(d2_load_f64(data, t, i));
    }
}

void d2_store_i64(void *data, enum d2_dtype t, size_t i, int64_t v)
{
    /* Integer narrowing wraps (two's complement), as numpy's astype does. */
    switch (t) {
    case D2_DTYPE_I64: ((int64_t *)data)[i] = v; break;
    case D2_DTYPE_I32: ((int32_t *)data)[i] = (int32_t)(uint32_t)v; break;
    case D2_DTYPE_I16: ((int16_t *)data)[i] = (int16_t)(uint16_t)v; break;
    case D2_DTYPE_I8: ((int8_t *)data)[i] = (int8_t)(uint8_t)v; break;
    case D2_DTYPE_U8: ((uint8_t *)data)[i] = (uint8_t)v; break;
    case D2_DTYPE_U16: ((uint16_t *)data)[i] = (uint16_t)v; break;
    case D2_DTYPE_U32: ((uint32_t *)data)[i] = (uint32_t)v; break;
    case D2_DTYPE_U64: ((uint64_t *)data)[i] = (uint64_t)v; break;
    case D2_DTYPE_BOOL: ((uint8_t *)data)[i] = v != 0; break;
    default: d2_store_f64(data, t, i, (double)v); break;
    }
}
