/** The RFC 8176 `amr` table and helpers live in core (bearer tokens read them too). */
export { AMR_FACTORS, amrShowsMultiFactor, factorsFromAmr } from '@bulwark/core';
