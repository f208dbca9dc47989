/* secup — symbol visibility and attribute macros. */
#ifndef SECUP_EXPORT_H
#define SECUP_EXPORT_H

#if defined(__GNUC__) || defined(__clang__)
#define SECUP_API __attribute__((visibility("default")))
#define SECUP_NODISCARD __attribute__((warn_unused_result))
#define SECUP_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define SECUP_API
#define SECUP_NODISCARD
#define SECUP_PRINTF(fmt, args)
#endif

#endif /* SECUP_EXPORT_H */
