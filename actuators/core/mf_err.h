/* mf_err.h - error codes returned by the myofoc control core.
 *
 * Every fallible core function returns an int: MF_OK (0) on success or one
 * of the negative codes below. No function in the core asserts or aborts.
 */
#ifndef MF_ERR_H
#define MF_ERR_H

#define MF_OK 0
#define MF_EINVAL (-1)   /* a config field is out of range, zero or not finite */
#define MF_ENULL (-2)    /* a required pointer was NULL */
#define MF_ERANGE (-3)   /* an input is out of the allowed range */
#define MF_ESTATE (-4)   /* the call is not allowed in the current state */

#endif /* MF_ERR_H */
