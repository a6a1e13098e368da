/*
 * Wire types: explicitly little-endian integers and the conversions between
 * them and the CPU's byte order. Modern (VIRTIO 1.x) devices are little-endian
 * everywhere; legacy devices use the guest's native order for rings and
 * config, which is why the ring code goes through lvio_vq_* accessors that
 * know which of the two applies.
 */
#ifndef LVIO_SPEC_TYPES_H
#define LVIO_SPEC_TYPES_H

#include <stdint.h>

/* Storage types: the value inside is in device (little-endian) order. */
typedef uint16_t lvio_le16;
typedef uint32_t lvio_le32;
typedef uint64_t lvio_le64;

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define LVIO_BIG_ENDIAN 1
static inline uint16_t lvio_le16_to_cpu(lvio_le16 v) { return __builtin_bswap16(v); }
static inline uint32_t lvio_le32_to_cpu(lvio_le32 v) { return __builtin_bswap32(v); }
static inline uint64_t lvio_le64_to_cpu(lvio_le64 v) { return __builtin_bswap64(v); }
#else
#define LVIO_BIG_ENDIAN 0
static inline uint16_t lvio_le16_to_cpu(lvio_le16 v) { return v; }
static inline uint32_t lvio_le32_to_cpu(lvio_le32 v) { return v; }
static inline uint64_t lvio_le64_to_cpu(lvio_le64 v) { return v; }
#endif

/* Byte swapping is its own inverse. */
#define lvio_cpu_to_le16(v) lvio_le16_to_cpu(v)
#define lvio_cpu_to_le32(v) lvio_le32_to_cpu(v)
#define lvio_cpu_to_le64(v) lvio_le64_to_cpu(v)

#endif
