/* The console font, a Debian console font decompressed at build time
 * (kernel.mk: KERNEL_FONT -> build/aarch64/font.psf). */
    .section .rodata
    .balign 16
    .global font_psf_start, font_psf_end
font_psf_start:
    .incbin "font.psf"
font_psf_end:
    .balign 4
