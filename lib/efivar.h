/* efivar.h - the UEFI boot order, read and written through efivarfs
 * (/sys/firmware/efi/efivars): BootCurrent, BootOrder and the Boot####
 * load options (UEFI 2.x, 3.1.3).
 *
 * A node installed from the network must keep booting from the network
 * first, so that the boot server decides each boot (si_mkbootserver: BOEL
 * when the node is marked for installation, else "exit" to the next boot
 * device).  grub-install puts its new entry first; efivar_keep_network_first()
 * puts the network entry this boot came from back in front of it.
 */
#ifndef SI_EFIVAR_H
#define SI_EFIVAR_H

#include <stddef.h>
#include <stdint.h>

#define EFIVAR_GLOBAL "8be4df61-93ca-11d2-aa0d-00e098032b8c"

/* Reads variable NAME-EFIVAR_GLOBAL of dir: *data (the caller frees it)
 * and *len, without the attributes.  Returns 0, or -1 (errno set, no
 * message). */
int efivar_read(const char *dir, const char *name, uint8_t **data,
		size_t *len);
/* Writes it (non-volatile, boot and runtime access).  Returns 0 or -1
 * with a message. */
int efivar_write(const char *dir, const char *name, const void *data,
		 size_t len);

/* Parses a load option: its description (ASCII, '?' for the rest, into
 * desc) and whether its device path holds a MAC address node (a network
 * boot).  Returns 0, or -1 when it is malformed. */
int efivar_parse_option(const uint8_t *opt, size_t len, char *desc,
			size_t size, int *network);

/* When this boot came from a network entry (BootCurrent), makes the
 * order: that entry, then the entries described as label, then the rest
 * as they were.  Returns 1 when the order was changed (message), 0 when
 * nothing was to do (not booted from the network, or already so), -1 on
 * an error (message). */
int efivar_keep_network_first(const char *dir, const char *label);

#endif
