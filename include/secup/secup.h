/* secup — the public API of libsecup in one include. */
#ifndef SECUP_SECUP_H
#define SECUP_SECUP_H

#include "secup/bytes.h"
#include "secup/command.h"
#include "secup/cose.h"
#include "secup/encrypt.h"
#include "secup/err.h"
#include "secup/file.h"
#include "secup/hash.h"
#include "secup/keys.h"
#include "secup/manifest.h"
#include "secup/notification.h"
#include "secup/request.h"
#include "secup/policy.h"
#include "secup/process.h"
#include "secup/rc.h"
#include "secup/slot.h"
#include "secup/status.h"
#include "secup/stream.h"

#define SECUP_VERSION_STRING "0.1.0"

#endif /* SECUP_SECUP_H */
