/* Internal declarations shared by the SUIT decoder and encoder. */
#ifndef SECUP_SUIT_DECODE_H
#define SECUP_SUIT_DECODE_H
#endif
