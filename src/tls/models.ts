// The cert-manager model classes. The bundle swaps this module for a lazy one
// (scripts/build.mjs): their schema validators cost a third of the cold start,
// and a run without Ray pods never needs them.
export { Certificate } from '@kubernetes-models/cert-manager/cert-manager.io/v1/Certificate';
export { Issuer } from '@kubernetes-models/cert-manager/cert-manager.io/v1/Issuer';
