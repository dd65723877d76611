/* @noble/ed25519 3.2.0
The MIT License (MIT)

Copyright (c) 2019 Paul Miller (https://paulmillr.com)

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the “Software”), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in
all copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED “AS IS”, WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN
THE SOFTWARE.*/
const __noble = (() => {
/*! noble-ed25519 - MIT License (c) 2019 Paul Miller (paulmillr.com) */
/**
 * 5KB JS implementation of ed25519 EdDSA signatures.
 * Targets RFC8032, FIPS 186-5, and ZIP215 behavior.
 * @module
 * @example
 * ```js
import * as ed from '@noble/ed25519';
(async () => {
  const secretKey = ed.utils.randomSecretKey();
  const message = Uint8Array.from([0xab, 0xbc, 0xcd, 0xde]);
  const pubKey = await ed.getPublicKeyAsync(secretKey); // Sync methods are also present
  const signature = await ed.signAsync(message, secretKey);
  const isValid = await ed.verifyAsync(signature, message, pubKey);
})();
```
 */
/**
 * Curve params. edwards25519 uses the RFC equation `-x² + y² = 1 + dx²y²`.
 * The stored `a` literal below is `p - 1`, i.e. the field-element encoding of RFC `a = -1`.
 * * P = `2n**255n - 19n` // field over which calculations are done
 * * N = `2n**252n + 27742317777372353535851937790883648493n` // prime-order subgroup order
 * * h = 8 // cofactor
 * * a = `Fp.create(BigInt(-1))` // equation param, stored here as `p - 1`
 * * d = -121665/121666 a.k.a. `Fp.neg(121665 * Fp.inv(121666))` // equation param
 * * Gx, Gy are coordinates of Generator / base point
 *
 * Mirror noble-curves: Point.CURVE() exposes shared params, but callers must not be able to mutate
 * that shared view and desynchronize it from the arithmetic constants captured below.
 */
const freeze = Object.freeze;
const P = 0x7fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffedn;
const N = 0x1000000000000000000000000000000014def9dea2f79cd65812631a5cf5d3edn;
const _d = 0x52036cee2b6ffe738cc740797779e89800700a4d4141d8ab75eb4dca135978a3n;
const Gx = 0x216936d3cd6e53fec0a4e231fdd6dc5c692cc7609525a7b2c9562d608f25d51an;
const Gy = 0x6666666666666666666666666666666666666666666666666666666666666658n;
const _a = P - 1n; // field-element encoding of RFC `a = -1`
const ed25519_CURVE = freeze({
    p: P,
    n: N,
    h: 8n,
    a: _a,
    d: _d,
    Gx,
    Gy,
});
// Shared 32-byte encoded width for Ed25519 points, scalars, signatures/2, and keys. Named LEN
// rather than RFC 8032's `L`, which names the group order (stored here as `N`).
const LEN = 32;
// Helpers and Precomputes sections are reused between libraries
// ## Helpers
// ----------
/** Checks if something is Uint8Array. Be careful: nodejs Buffer will return true. */
const isBytes = (a) => {
    // Plain `instanceof Uint8Array` is too strict for some Buffer / proxy / cross-realm cases.
    // The fallback still requires a real ArrayBuffer view, so plain
    // JSON-deserialized `{ constructor: ... }` spoofing is rejected, and
    // `BYTES_PER_ELEMENT === 1` keeps the fallback on byte-oriented views.
    return (a instanceof Uint8Array ||
        (ArrayBuffer.isView(a) &&
            a.constructor.name === 'Uint8Array' &&
            a.BYTES_PER_ELEMENT === 1));
};
/** Asserts something is Bytes. */
const abytes = (value, length, title = '') => {
    // Success path first: this runs at the start of every update() / digestInto(), and the
    // common `abytes(data)` form must not pay for length handling it does not use.
    if (isBytes(value) && (length === undefined || value.length === length))
        return value;
    // Error path: recompute freely to build the exact message.
    const bytes = isBytes(value);
    const ofLen = length !== undefined ? ` of length ${length}` : '';
    const got = bytes ? `length=${value.length}` : `type=${typeof value}`;
    const message = (title ? `"${title}" ` : '') + 'expected Uint8Array' + ofLen + ', got ' + got;
    if (!bytes)
        throw new TypeError(message);
    throw new RangeError(message);
};
// Validate, then take one owned copy, so later caller mutation cannot be observed — e.g. cannot
// make sign()'s nonce derivation and challenge derivation see different messages.
const snapshotBytes = (value, title = '', length) => Uint8Array.from(abytes(value, length, title));
// Callers keep values non-negative and within the requested width; padStart() won't truncate over-wide inputs.
const padh = (n, pad) => n.toString(16).padStart(pad, '0');
/** Convert byte array to hex string. */
const bytesToHex = (bytes) => {
    let hex = '';
    for (const byte of abytes(bytes))
        hex += padh(byte, 2);
    return hex;
};
/** Convert hex string to byte array. */
const hexToBytes = (hex) => {
    const e = 'hex invalid'; // Strict ASCII hex only, with one generic error for parse failures.
    if (typeof hex !== 'string')
        throw new TypeError(e);
    if (hex.length % 2 || !/^[\da-f]*$/i.test(hex))
        throw new RangeError(e);
    const array = new Uint8Array(hex.length / 2);
    for (let ai = 0, hi = 0; ai < array.length; ai++, hi += 2) {
        const n1 = hex.charCodeAt(hi);
        const n2 = hex.charCodeAt(hi + 1);
        // Regex guarantees ASCII. For 0..9/A..F/a..f, this maps char codes to 0..15.
        array[ai] = ((n1 & 15) + (n1 >> 6) * 9) * 16 + (n2 & 15) + (n2 >> 6) * 9;
    }
    return array;
};
// WebCrypto is available in all modern environments
/** Copies several Uint8Arrays into one. */
const concatBytes = (...arrays) => {
    let sum = 0;
    for (const a of arrays)
        sum += abytes(a).length;
    const res = new Uint8Array(sum);
    let pad = 0;
    for (const a of arrays) {
        res.set(a, pad);
        pad += a.length;
    }
    return res;
};
/**
 * WebCrypto OS-level CSPRNG (random number generator).
 * Will throw when not available; large-request ceilings are delegated to getRandomValues().
 */
const randomBytes = (len = LEN) => {
    const c = globalThis?.crypto;
    if (typeof c?.getRandomValues !== 'function')
        throw new Error('crypto.getRandomValues must be defined, consider polyfill');
    return c.getRandomValues(new Uint8Array(len));
};
/** Inclusive-lower, exclusive-upper bigint range assertion. */
const arange = (n, min, max, msg = 'bad number: out of range') => {
    if (typeof n !== 'bigint')
        throw new TypeError(msg);
    if (min <= n && n < max)
        return n;
    throw new RangeError(msg);
};
/** Canonical modular reduction. Callers must provide a positive modulus. */
const mod = (a, b = P) => ((a %= b) >= 0n ? a : b + a);
// Low-255-bit mask used by the `2^255 - 19` fast reduction in `modP(...)`.
const P_MASK = (1n << 255n) - 1n;
// Fast reduction for the special prime `2^255 - 19`. This path assumes nonnegative inputs; the
// generic fallback would simply be `mod(num, P)`.
const modP = (num) => {
    if (num < 0n)
        throw new RangeError('negative coordinate');
    let r = (num >> 255n) * 19n + (num & P_MASK);
    r = (r >> 255n) * 19n + (r & P_MASK);
    return r % P;
};
// Reduce modulo the subgroup order stored in implementation constant `N` (RFC 8032's `L`).
const modN = (a) => mod(a, N);
/** Modular inversion using extended euclidean GCD. Variable-time (non-CT). */
const invert = (number, modulo) => {
    if (number === 0n)
        throw new Error('invert: expected non-zero number');
    // modulo = 1 is the zero ring: gcd(x, 1) = 1 makes the loop below "succeed" and return the
    // useless inverse 0. Reject it like pow() and invertCt() do.
    if (modulo <= 1n)
        throw new Error('invert: expected modulus > 1, got ' + modulo);
    // This is variable-time: the loop count depends on `number`.
    let a = mod(number, modulo);
    let b = modulo;
    // Only the Bézout coefficient of `number` (x/u chain) is tracked; the coefficient of `modulo`
    // never affects the output, so it is not computed.
    // prettier-ignore
    let x = 0n, u = 1n;
    while (a !== 0n) {
        const q = b / a;
        const r = b - a * q;
        const m = x - u * q;
        // prettier-ignore
        b = a, a = r, x = u, u = m;
    }
    const gcd = b;
    if (gcd !== 1n)
        throw new Error('invert: does not exist');
    return mod(x, modulo);
};
// Dynamic lookup keeps sync/async hash providers configurable at runtime. Both exported slots are
// caller-owned and may be unset; wrapper helpers use this lookup first and then enforce the digest
// contract instead of trusting provider output.
const _hash = (name) => {
    // @ts-ignore
    const fn = hashes[name];
    if (typeof fn !== 'function')
        throw new Error('hashes.' + name + ' not set');
    return fn;
};
// All exported provider slots are caller-configurable and may be unset or return arbitrary values,
// so wrapper helpers must enforce the exact 64-byte SHA-512 digest contract instead of trusting providers.
const callHash = (name, ...m) => abytes(_hash(name)(concatBytes(...m)), 64, 'digest');
const callHashAsync = async (name, ...m) => abytes(await _hash(name)(concatBytes(...m)), 64, 'digest');
/**
 * SHA-512 helper used by the synchronous API.
 * @param msg - Message bytes to hash.
 * @returns 64-byte SHA-512 digest.
 * @example
 * Hash message bytes after wiring the synchronous SHA-512 implementation.
 *
 * ```ts
 * import * as ed from '@noble/ed25519';
 * import { sha512 } from '@noble/hashes/sha2.js';
 *
 * ed.hashes.sha512 = sha512;
 * const digest = ed.hash(new Uint8Array([1, 2, 3]));
 * ```
 */
// Public helper validates the message boundary explicitly; the configured provider is still looked
// up dynamically and its output is checked with `callHash(...)`.
const hash = (msg) => callHash('sha512', abytes(msg, undefined, 'message'));
// Runtime class guard: this is `instanceof Point`, so cross-realm / duplicate-bundle Point objects
// are rejected even if they are structurally identical.
const apoint = (p) => {
    if (p instanceof Point)
        return p;
    throw new TypeError('Point expected');
};
// ## End of Helpers
// -----------------
// Exclusive upper bound `2^256` used by 32-byte decode/serialization range checks.
const B256 = 2n ** 256n;
/**
 * Point in XYZT extended coordinates.
 * @param X - X coordinate.
 * @param Y - Y coordinate.
 * @param Z - Projective Z coordinate.
 * @param T - Cached cross-product term.
 * @example
 * Do point arithmetic with the built-in base point and encode the result as hex.
 *
 * ```ts
 * const hex = Point.BASE.double().toHex();
 * ```
 */
class Point {
    static BASE;
    static ZERO;
    X;
    Y;
    Z;
    T;
    // Constructor only bounds-checks and freezes XYZT coordinates; it does not prove the point is
    // on-curve or that T matches X*Y/Z.
    constructor(X, Y, Z, T) {
        const max = B256;
        this.X = arange(X, 0n, max);
        this.Y = arange(Y, 0n, max);
        this.Z = arange(Z, 1n, max);
        this.T = arange(T, 0n, max);
        freeze(this);
    }
    static CURVE() {
        return ed25519_CURVE;
    }
    static fromAffine(p) {
        return new Point(p.x, p.y, 1n, modP(p.x * p.y));
    }
    /** RFC8032 5.1.3: Uint8Array to Point. */
    static fromBytes(bytes, zip215 = false) {
        const normed = snapshotBytes(bytes, 'point', LEN); // owned copy: sign-bit mask below mutates it
        // adjust first LE byte = last BE byte
        const lastByte = normed[31];
        normed[31] = lastByte & ~0x80;
        const y = bytesToNumberLE(normed);
        // After clearing the sign bit, parsed `y` is always < 2^255. ZIP-215 still accepts the full
        // post-mask range here, while strict RFC8032 decoding further requires `y < p`.
        if (!zip215)
            arange(y, 0n, P);
        const y2 = modP(y * y); // y²
        const u = mod(y2 - 1n); // u=y²-1
        const v = modP(_d * y2 + 1n); // v=dy²+1
        let { isValid, value: x } = uvRatio(u, v); // (uv³)(uv⁷)^(p-5)/8; square root
        if (!isValid)
            throw new Error('bad point: y not sqrt'); // not square root: bad point
        const isLastByteOdd = !!(lastByte & 0x80); // x_0, last bit
        // ZIP-215-compatible decoding keeps the x=0 / sign-bit=1 encoding accepted; strict RFC 8032
        // rejects it, but the vendored ZIP-215 compliance vectors include this form in A/R bytes.
        if (!zip215 && x === 0n && isLastByteOdd)
            throw new Error('bad point: x==0, isLastByteOdd'); // x=0, x_0=1
        if (isLastByteOdd !== !!(x & 1n))
            x = mod(-x); // adjust sign of x coordinate
        return new Point(x, y, 1n, modP(x * y)); // Z=1, T=xy
    }
    static fromHex(hex, zip215) {
        return Point.fromBytes(hexToBytes(hex), zip215);
    }
    get x() {
        return this.toAffine().x;
    }
    get y() {
        return this.toAffine().y;
    }
    /** Checks if the point is valid and on-curve. */
    assertValidity() {
        const a = _a;
        const d = _d;
        const p = this;
        // Intentional stricter-than-on-curve policy: reject ZERO by default because many protocols
        // require a non-zero point, and silently accepting identity points is a common caller mistake.
        if (p.is0())
            throw new Error('bad point: ZERO');
        // Equation in affine coordinates: ax² + y² = 1 + dx²y²
        // Equation in projective coordinates (X/Z, Y/Z, Z):  (aX² + Y²)Z² = Z⁴ + dX²Y²
        const { X, Y, Z, T } = p;
        const X2 = modP(X * X); // X²
        const Y2 = modP(Y * Y); // Y²
        const Z2 = modP(Z * Z); // Z²
        const Z4 = modP(Z2 * Z2); // Z⁴
        const aX2 = modP(X2 * a); // aX²
        const left = modP(Z2 * (aX2 + Y2)); // (aX² + Y²)Z²
        const right = mod(Z4 + modP(d * modP(X2 * Y2))); // Z⁴ + dX²Y²
        if (left !== right)
            throw new Error('bad point: equation left != right (1)');
        // In Extended coordinates we also have T, which is x*y=T/Z: check X*Y == Z*T
        const XY = modP(X * Y);
        const ZT = modP(Z * T);
        if (XY !== ZT)
            throw new Error('bad point: equation left != right (2)');
        return this;
    }
    /** Equality check: compare points P&Q. */
    equals(other) {
        const { X: X1, Y: Y1, Z: Z1 } = this;
        const { X: X2, Y: Y2, Z: Z2 } = apoint(other); // checks class equality
        return modP(X1 * Z2) === modP(X2 * Z1) && modP(Y1 * Z2) === modP(Y2 * Z1);
    }
    is0() {
        return this.equals(I);
    }
    /** Flip point over y coordinate. */
    negate() {
        return new Point(mod(-this.X), this.Y, this.Z, mod(-this.T));
    }
    /** Point doubling. Complete formula. Cost: `4M + 4S + 1*a + 6add + 1*2`. */
    double() {
        const { X: X1, Y: Y1, Z: Z1 } = this;
        const a = _a;
        // https://hyperelliptic.org/EFD/g1p/auto-twisted-extended.html#doubling-dbl-2008-hwcd
        const A = modP(X1 * X1);
        const B = modP(Y1 * Y1);
        const C = modP(2n * Z1 * Z1);
        const D = modP(a * A);
        const x1y1 = mod(X1 + Y1);
        const E = mod(modP(x1y1 * x1y1) - A - B);
        const G = mod(D + B);
        const F = mod(G - C);
        const H = mod(D - B);
        const X3 = modP(E * F);
        const Y3 = modP(G * H);
        const T3 = modP(E * H);
        const Z3 = modP(F * G);
        return new Point(X3, Y3, Z3, T3);
    }
    /** Point addition. Complete formula. Cost: `9M + 1*a + 1*d + 7add`. */
    add(other) {
        const { X: X1, Y: Y1, Z: Z1, T: T1 } = this;
        const { X: X2, Y: Y2, Z: Z2, T: T2 } = apoint(other); // doesn't check if other on-curve
        const a = _a;
        const d = _d;
        // https://hyperelliptic.org/EFD/g1p/auto-twisted-extended.html#addition-add-2008-hwcd
        const A = modP(X1 * X2);
        const B = modP(Y1 * Y2);
        const C = modP(modP(T1 * d) * T2);
        const D = modP(Z1 * Z2);
        const E = mod(modP(mod(X1 + Y1) * mod(X2 + Y2)) - A - B);
        const F = mod(D - C);
        const G = mod(D + C);
        const H = mod(B - modP(a * A));
        const X3 = modP(E * F);
        const Y3 = modP(G * H);
        const T3 = modP(E * H);
        const Z3 = modP(F * G);
        return new Point(X3, Y3, Z3, T3);
    }
    subtract(other) {
        return this.add(apoint(other).negate());
    }
    /**
     * Point-by-scalar multiplication. Safe mode requires `1 <= n < CURVE.n`.
     * Unsafe mode additionally permits `n = 0` and returns the identity point for that case.
     * Uses {@link wNAF} for base point.
     * Uses fake point to mitigate side-channel leakage.
     * @param n - scalar by which point is multiplied
     * @param safe - safe mode guards against timing attacks; unsafe mode is faster
     */
    multiply(n, safe = true) {
        // Mirror noble-curves: unsafe mode still validates scalar range first, but intentionally keeps
        // `n = 0` as the one extra accepted case used by verification-style callers.
        if (!safe && n === 0n)
            return I;
        arange(n, 1n, N);
        if (!safe && this.is0())
            return I;
        if (n === 1n)
            return this;
        if (this.equals(G))
            return wNAF(n).p;
        // init result point & fake point
        let p = I;
        let f = G;
        let d = this;
        // Safe mode always runs 256 iterations so ladder length can't leak the scalar's
        // leading zero bits; unsafe mode stops at the top set bit for speed.
        for (let i = 0; safe ? i < 256 : n > 0n; i++) {
            // if bit is present, add to point
            // if not present, add to fake, for timing safety
            if (n & 1n)
                p = p.add(d);
            else if (safe)
                f = f.add(d);
            d = d.double();
            n >>= 1n;
        }
        return p;
    }
    multiplyUnsafe(scalar) {
        return this.multiply(scalar, false);
    }
    /** Convert point to 2d xy affine point. (X, Y, Z) ∋ (x=X/Z, y=Y/Z) */
    toAffine() {
        const { X, Y, Z } = this;
        // Fast-path only for the identity point; all other inputs still go through inversion.
        if (this.equals(I))
            return { x: 0n, y: 1n };
        const iz = invert(Z, P);
        // (Z * Z^-1) must be 1, otherwise bad math
        if (modP(Z * iz) !== 1n)
            throw new Error('invalid inverse');
        // x = X*Z^-1; y = Y*Z^-1
        return { x: modP(X * iz), y: modP(Y * iz) };
    }
    toBytes() {
        const { x, y } = this.toAffine();
        const b = numTo32bLE(y);
        // store sign in first LE byte
        b[31] |= x & 1n ? 0x80 : 0;
        return b;
    }
    toHex() {
        return bytesToHex(this.toBytes());
    }
    clearCofactor() {
        return this.multiply(8n, false); // h = 8
    }
    isSmallOrder() {
        return this.clearCofactor().is0();
    }
    isTorsionFree() {
        // Multiply by big number N. We can't `mul(N)` because of checks. Instead, we `mul(N/2)*2+1`;
        // N is odd, so N/2 truncates and the final `add(this)` is always needed.
        return this.multiply(N / 2n, false)
            .double()
            .add(this)
            .is0();
    }
}
/** Generator / base point */
const G = new Point(Gx, Gy, 1n, mod(Gx * Gy));
/** Identity / zero point */
const I = new Point(0n, 1n, 1n, 0n);
// Static aliases
Point.BASE = G;
Point.ZERO = I;
const numTo32bLE = (num) => hexToBytes(padh(arange(num, 0n, B256), 64)).reverse();
// Caller-enforced width: some sites require 32-byte RFC encodings, while others intentionally feed
// wider SHA-512 output chunks through the same little-endian parser.
const bytesToNumberLE = (b) => BigInt('0x' + bytesToHex(Uint8Array.from(abytes(b)).reverse()));
const pow2 = (x, power) => {
    // pow2(x, 4) == x^(2^4)
    // Negative `power` values are not rejected here and currently leave `x` unchanged.
    let r = x;
    while (power-- > 0) {
        r = modP(r * r);
    }
    return r;
};
// prettier-ignore
const pow_2_252_3 = (x) => {
    const x2 = modP(x * x); // x^2,       bits 1
    const b2 = modP(x2 * x); // x^3,       bits 11
    const b4 = modP(pow2(b2, 2) * b2); // x^(2^4-1), bits 1111
    const b5 = modP(pow2(b4, 1) * x); // x^(2^5-1), bits 11111
    const b10 = modP(pow2(b5, 5) * b5); // x^(2^10-1)
    const b20 = modP(pow2(b10, 10) * b10); // x^(2^20-1)
    const b40 = modP(pow2(b20, 20) * b20); // x^(2^40-1)
    const b80 = modP(pow2(b40, 40) * b40); // x^(2^80-1)
    const b160 = modP(pow2(b80, 80) * b80); // x^(2^160-1)
    const b240 = modP(pow2(b160, 80) * b80); // x^(2^240-1)
    const b250 = modP(pow2(b240, 10) * b10); // x^(2^250-1)
    return modP(pow2(b250, 2) * x); // x^((p-5)/8), used by RFC8032 point decode
};
const RM1 = 0x2b8324804fc1df0b2b4d00993dfbd7a72f431806ad2fe478c4ee1b274a0ea0b0n; // 2^((p-1)/4) = sqrt(-1)
// RFC8032 §5.1.3 square-root helper for point decompression. `value` is only meaningful when
// `isValid` is true; callers are also expected to pass canonical field elements with non-zero `v`.
// prettier-ignore
const uvRatio = (u, v) => {
    const v3 = modP(v * modP(v * v)); // v³
    const v7 = modP(modP(v3 * v3) * v); // v⁷
    const pow = pow_2_252_3(modP(u * v7)); // (uv⁷)^(p-5)/8
    let x = modP(u * modP(v3 * pow)); // (uv³)(uv⁷)^(p-5)/8
    const vx2 = modP(v * modP(x * x)); // vx²
    const root1 = x; // First root candidate
    const root2 = modP(x * RM1); // Second root candidate; RM1 is √-1
    const useRoot1 = vx2 === u; // If vx² = u (mod p), x is a square root
    const useRoot2 = vx2 === mod(-u); // If vx² = -u, set x <-- x * 2^((p-1)/4)
    const noRoot = vx2 === mod(-u * RM1); // There is no valid root, vx² = -u√-1
    if (useRoot1)
        x = root1;
    if (useRoot2 || noRoot)
        x = root2; // We return root2 anyway, for const-time
    if ((mod(x) & 1n) === 1n)
        x = mod(-x); // edIsNegative
    return { isValid: useRoot1 || useRoot2, value: x };
};
// Reduce a little-endian byte string modulo the subgroup order `N` (RFC 8032's `L`); the `hash`
// param name reflects the common caller shape, not an input restriction.
const modL_LE = (hash) => modN(bytesToNumberLE(hash));
// RFC8032 5.1.5. Split the 64-byte hashed seed into the clamped scalar half and nonce prefix.
const hashedToExtK = (hashed) => {
    // slice creates a copy, unlike subarray
    const copy = snapshotBytes(hashed);
    const head = copy.slice(0, 32);
    head[0] &= 248; // Clamp bits: 0b1111_1000
    head[31] &= 127; // 0b0111_1111
    head[31] |= 64; // 0b0100_0000
    const prefix = copy.slice(32); // secret key "prefix"
    // RFC words this as `[s]B`; reducing the clamped little-endian scalar modulo `N` is equivalent
    // for base-point multiplication because `G` already has subgroup order `N`.
    const scalar = modL_LE(head);
    const point = G.multiply(scalar); // public key point
    const pointBytes = point.toBytes(); // point serialized to Uint8Array
    return { head, prefix, scalar, point, pointBytes };
};
// RFC8032 5.1.5; getPublicKey async, sync. Hash secret key and extract point.
const getExtendedPublicKeyAsync = (secretKey) => callHashAsync('sha512Async', abytes(secretKey, LEN, 'secretKey')).then(hashedToExtK);
const getExtendedPublicKey = (secretKey) => hashedToExtK(callHash('sha512', abytes(secretKey, LEN, 'secretKey')));
/**
 * Creates a 32-byte Ed25519 public key from the RFC 8032 32-byte secret-key seed. Async.
 * @param secretKey - 32-byte RFC 8032 secret-key seed, not a 64-byte expanded secret key.
 * @returns 32-byte public key.
 * @throws On wrong argument types. {@link TypeError}
 * @throws On wrong argument ranges or values. {@link RangeError}
 * @example
 * Derive the public key bytes for a newly generated signer secret.
 *
 * ```ts
 * import * as ed from '@noble/ed25519';
 *
 * const secretKey = ed.utils.randomSecretKey();
 * const publicKey = await ed.getPublicKeyAsync(secretKey);
 * ```
 */
const getPublicKeyAsync = (secretKey) => getExtendedPublicKeyAsync(secretKey).then((p) => p.pointBytes);
/**
 * Creates a 32-byte Ed25519 public key from the RFC 8032 32-byte secret-key seed.
 * To use, set `hashes.sha512` first.
 * @param secretKey - 32-byte RFC 8032 secret-key seed, not a 64-byte expanded secret key.
 * @returns 32-byte public key.
 * @throws If synchronous SHA-512 has not been configured in `hashes`. {@link Error}
 * @throws On wrong argument types. {@link TypeError}
 * @throws On wrong argument ranges or values. {@link RangeError}
 * @example
 * Derive the public key entirely through the synchronous API.
 *
 * ```ts
 * import * as ed from '@noble/ed25519';
 * import { sha512 } from '@noble/hashes/sha2.js';
 *
 * ed.hashes.sha512 = sha512;
 * const secretKey = ed.utils.randomSecretKey();
 * const publicKey = ed.getPublicKey(secretKey);
 * ```
 */
const getPublicKey = (secretKey) => getExtendedPublicKey(secretKey).pointBytes;
const hashFinishAsync = async (res) => res[1](await callHashAsync('sha512Async', res[0]));
const hashFinishSync = (res) => res[1](callHash('sha512', res[0]));
// Code, shared between sync & async sign
const _sign = (e, rBytes, msg) => {
    const { pointBytes: A, scalar: s } = e;
    const r = modL_LE(rBytes); // r was created outside, reduce it modulo L
    // RFC 8032 5.1.6 allows r mod L = 0, and SUPERCOP ref10 accepts the resulting identity-point
    // signature.
    // We intentionally keep the safe multiply() rejection here so a miswired all-zero SHA-512 provider
    // fails loudly instead of silently producing a degenerate signature.
    const R = G.multiply(r).toBytes(); // R = [r]B
    const hashable = concatBytes(R, A, msg); // dom2(F, C) || R || A || PH(M)
    const finish = (hashed) => {
        // k = SHA512(dom2(F, C) || R || A || PH(M))
        const S = modN(r + modL_LE(hashed) * s); // S = (r + k * s) mod L; 0 <= s < l
        return abytes(concatBytes(R, numTo32bLE(S)), 64); // 64-byte sig: 32-byte encoded R point || 32-byte LE(S)
    };
    return [hashable, finish];
};
/**
 * Signs message using secret key. Async.
 * Follows RFC8032 5.1.6.
 * @param message - Message bytes to sign.
 * @param secretKey - 32-byte RFC 8032 secret-key seed, not a 64-byte expanded secret key.
 * @returns 64-byte Ed25519 signature.
 * @throws On wrong argument types. {@link TypeError}
 * @throws On wrong argument ranges or values. {@link RangeError}
 * @example
 * Sign an arbitrary message with a fresh Ed25519 secret key.
 *
 * ```ts
 * import * as ed from '@noble/ed25519';
 *
 * const secretKey = ed.utils.randomSecretKey();
 * const message = new Uint8Array([1, 2, 3]);
 * const signature = await ed.signAsync(message, secretKey);
 * ```
 */
const signAsync = async (message, secretKey) => {
    const m = snapshotBytes(message, 'message');
    const e = await getExtendedPublicKeyAsync(secretKey);
    // r = SHA512(dom2(F, C) || prefix || PH(M)); then generate R, k, S and the signature.
    return hashFinishAsync(_sign(e, await callHashAsync('sha512Async', e.prefix, m), m));
};
/**
 * Signs message using secret key. To use, set `hashes.sha512` first.
 * Follows RFC8032 5.1.6.
 * @param message - Message bytes to sign.
 * @param secretKey - 32-byte RFC 8032 secret-key seed, not a 64-byte expanded secret key.
 * @returns 64-byte Ed25519 signature.
 * @throws If synchronous SHA-512 has not been configured in `hashes`. {@link Error}
 * @throws On wrong argument types. {@link TypeError}
 * @throws On wrong argument ranges or values. {@link RangeError}
 * @example
 * Use the sync API when you've wired a SHA-512 implementation yourself.
 *
 * ```ts
 * import * as ed from '@noble/ed25519';
 * import { sha512 } from '@noble/hashes/sha2.js';
 *
 * ed.hashes.sha512 = sha512;
 * const secretKey = ed.utils.randomSecretKey();
 * const signature = ed.sign(new Uint8Array([1, 2, 3]), secretKey);
 * ```
 */
const sign = (message, secretKey) => {
    const m = snapshotBytes(message, 'message');
    const e = getExtendedPublicKey(secretKey);
    // r = SHA512(dom2(F, C) || prefix || PH(M)); then generate R, k, S and the signature.
    return hashFinishSync(_sign(e, callHash('sha512', e.prefix, m), m));
};
// Exported defaults favor ZIP-215 interoperability semantics; callers must opt into the stricter
// branch with `{ zip215: false }`.
// Preserves the exported ZIP-215 default for `{}` / `{ zip215: undefined }`, not just omitted opts.
const getZip215 = (options) => {
    if (options === null || typeof options !== 'object')
        throw new TypeError('expected valid options object');
    return options.zip215 ?? true;
};
const _verify = (sig, msg, publicKey, options) => {
    sig = abytes(sig, 64, 'signature'); // Signature hex str/Bytes, must be 64 bytes
    msg = abytes(msg, undefined, 'message'); // Message hex str/Bytes
    publicKey = abytes(publicKey, LEN, 'publicKey');
    const zip215 = getZip215(options);
    // zip215=false keeps the library's stricter branch, which still canonicalizes `R` / `A` before
    // hashing and rejects small-order public keys earlier than pure RFC8032 text would require.
    const r = sig.subarray(0, LEN);
    const s = bytesToNumberLE(sig.subarray(LEN, 64)); // Decode second half as an integer S;
    let A, R, SB;
    let hashable = Uint8Array.of();
    let finished = false;
    try {
        // zip215=true is good for consensus-critical apps. =false follows RFC8032 / NIST186-5.
        // zip215=true:  0 <= y < MASK (2^256 for ed25519)
        // zip215=false: 0 <= y < P (2^255-19 for ed25519)
        A = Point.fromBytes(publicKey, zip215);
        R = Point.fromBytes(r, zip215);
        SB = G.multiply(s, false); // 0 <= s < l is done inside
        // ZIP-215 accepts noncanonical / unreduced point encodings, so the challenge hash must use the
        // exact signature/public-key bytes rather than canonicalized re-encodings of the decoded points.
        hashable = concatBytes(r, publicKey, msg); // dom2(F, C) || R || A || PH(M)
        finished = true;
    }
    catch (error) { }
    const finish = (hashed) => {
        if (!finished)
            return false;
        // Policy: strict mode intentionally rejects all small-order public keys, even though the raw RFC
        // equation text is looser here. This matches libsodium and avoids weak / ambiguous verification
        // outcomes where unusual low-order public keys can make distinct key/signature combinations verify.
        if (!zip215 && A.isSmallOrder())
            return false;
        // k = SHA512(dom2(F, C) || R || A || PH(M))
        const k = modL_LE(hashed);
        const RkA = R.add(A.multiply(k, false));
        // Extended group equation
        // [8][S]B = [8]R + [8][k]A'
        return RkA.subtract(SB).clearCofactor().is0();
    };
    return [hashable, finish];
};
/**
 * Verifies a signature on message and public key. Async.
 * The implementation is based on RFC8032 5.1.7, but default opts use ZIP-215 semantics; pass
 * `{ zip215: false }` for the library's stricter branch.
 * @param signature - 64-byte signature.
 * @param message - Signed message bytes.
 * @param publicKey - 32-byte public key.
 * @param opts - Verification options. Defaults to ZIP-215 semantics. See {@link EdDSAVerifyOpts}.
 * @returns `true` when the signature is valid.
 * @throws On wrong argument types. {@link TypeError}
 * @throws On wrong argument ranges or values. {@link RangeError}
 * @example
 * Verify the signature against the same message and derived public key.
 *
 * ```ts
 * import * as ed from '@noble/ed25519';
 *
 * const secretKey = ed.utils.randomSecretKey();
 * const message = new Uint8Array([1, 2, 3]);
 * const publicKey = await ed.getPublicKeyAsync(secretKey);
 * const signature = await ed.signAsync(message, secretKey);
 * const isValid = await ed.verifyAsync(signature, message, publicKey);
 * ```
 */
const verifyAsync = async (signature, message, publicKey, opts = {}) => hashFinishAsync(_verify(signature, message, publicKey, opts));
/**
 * Verifies a signature on message and public key using the synchronous hash path.
 * The implementation is based on RFC8032 5.1.7, but default opts use ZIP-215 semantics; pass
 * `{ zip215: false }` for the library's stricter branch.
 * @param signature - 64-byte signature.
 * @param message - Signed message bytes.
 * @param publicKey - 32-byte public key.
 * @param opts - Verification options. Defaults to ZIP-215 semantics. See {@link EdDSAVerifyOpts}.
 * @returns `true` when the signature is valid.
 * @throws If synchronous SHA-512 has not been configured in `hashes`. {@link Error}
 * @throws On wrong argument types. {@link TypeError}
 * @throws On wrong argument ranges or values. {@link RangeError}
 * @example
 * Verify a signature entirely through the synchronous API.
 *
 * ```ts
 * import * as ed from '@noble/ed25519';
 * import { sha512 } from '@noble/hashes/sha2.js';
 *
 * ed.hashes.sha512 = sha512;
 * const secretKey = ed.utils.randomSecretKey();
 * const message = new Uint8Array([1, 2, 3]);
 * const publicKey = ed.getPublicKey(secretKey);
 * const signature = ed.sign(message, secretKey);
 * const isValid = ed.verify(signature, message, publicKey);
 * ```
 */
const verify = (signature, message, publicKey, opts = {}) => hashFinishSync(_verify(signature, message, publicKey, opts));
/**
 * Math, hex, byte helpers. Not in `utils` because utils share API with noble-curves.
 * Exposes the same low-level field-default `mod` reducer and non-CT `invert` helper used
 * internally.
 * @example
 * Convert bytes to a hex string with the low-level helper namespace.
 *
 * ```ts
 * const hex = etc.bytesToHex(new Uint8Array([1, 2, 3]));
 * ```
 */
const etc = /* @__PURE__ */ freeze({
    bytesToHex,
    hexToBytes,
    concatBytes,
    mod,
    invert,
    randomBytes,
});
/**
 * Hash implementations used by the synchronous API plus the default async WebCrypto provider.
 * Both slots are configurable API surface; wrapper helpers revalidate that providers still return
 * 64-byte SHA-512 digests.
 * @example
 * Provide a SHA-512 implementation before calling synchronous helpers.
 *
 * ```ts
 * import * as ed from '@noble/ed25519';
 * import { sha512 } from '@noble/hashes/sha2.js';
 *
 * ed.hashes.sha512 = sha512;
 * const { publicKey } = ed.keygen();
 * ```
 */
const hashes = {
    sha512Async: async (message) => {
        const s = globalThis?.crypto?.subtle;
        if (!s)
            throw new Error('crypto.subtle must be defined, consider polyfill');
        return new Uint8Array(await s.digest('SHA-512', concatBytes(message)));
    },
    sha512: undefined,
};
// Returns the final 32-byte Ed25519 secret-key seed verbatim, generating fresh random bytes only
// when omitted.
const randomSecretKey = (seed) => {
    return abytes(seed === undefined ? randomBytes() : seed, LEN, 'seed');
};
/**
 * Generates a secret/public keypair.
 * @param seed - Optional 32-byte Ed25519 secret-key seed, returned verbatim as `secretKey`.
 * @returns Keypair with `secretKey` and `publicKey`.
 * @throws If synchronous SHA-512 has not been configured in `hashes`. {@link Error}
 * @throws On wrong argument types. {@link TypeError}
 * @throws On wrong argument ranges or values. {@link RangeError}
 * @example
 * Generate a new keypair through the synchronous API after wiring SHA-512.
 *
 * ```ts
 * import * as ed from '@noble/ed25519';
 * import { sha512 } from '@noble/hashes/sha2.js';
 *
 * ed.hashes.sha512 = sha512;
 * const { secretKey, publicKey } = ed.keygen();
 * ```
 */
const keygen = (seed) => {
    const secretKey = randomSecretKey(seed);
    const publicKey = getPublicKey(secretKey);
    return { secretKey, publicKey };
};
/**
 * Generates a secret/public keypair asynchronously.
 * @param seed - Optional 32-byte Ed25519 secret-key seed, returned verbatim as `secretKey`.
 * @returns Keypair with `secretKey` and `publicKey`.
 * @throws On wrong argument types. {@link TypeError}
 * @throws On wrong argument ranges or values. {@link RangeError}
 * @example
 * Generate a new keypair through the asynchronous WebCrypto-backed path.
 *
 * ```ts
 * import * as ed from '@noble/ed25519';
 *
 * const { secretKey, publicKey } = await ed.keygenAsync();
 * ```
 */
const keygenAsync = async (seed) => {
    const secretKey = randomSecretKey(seed);
    const publicKey = await getPublicKeyAsync(secretKey);
    return { secretKey, publicKey };
};
/**
 * Ed25519-specific key utilities.
 * `utils.getExtendedPublicKey*` expose secret-derived internals (`head`, `prefix`, `scalar`, and
 * point objects), not just public-key bytes.
 * @example
 * Generate a new Ed25519 secret key and derive the matching public key.
 *
 * ```ts
 * import * as ed from '@noble/ed25519';
 *
 * const secretKey = ed.utils.randomSecretKey();
 * const publicKey = await ed.getPublicKeyAsync(secretKey);
 * ```
 */
const utils = /* @__PURE__ */ freeze({
    getExtendedPublicKeyAsync,
    getExtendedPublicKey,
    randomSecretKey,
});
// ## Precomputes
// --------------
// Fixed W=8 window: 33 windows (ceil(256/8) + 1, NOT 32 - see wNAF loop), 128 points per window.
// Layout is grouped by window: each block stores the positive multiples `1*base .. 128*base` for
// that window, and the extra `+1` window absorbs carries from signed-digit recoding.
const precompute = () => {
    const points = [];
    let p = G;
    let b;
    for (let w = 0; w < 33; w++) {
        b = p;
        points.push(b);
        for (let i = 1; i < 128; i++) {
            b = b.add(p);
            points.push(b);
        } // i=1, bc we skip 0
        p = b.double();
    }
    return points;
};
let Gpows = undefined; // shared process-wide cache of base-point precomputes
// Branch-based negate helper used for JS/JIT mitigation symmetry, not a strict constant-time claim.
const ctneg = (cnd, p) => {
    const n = p.negate();
    return cnd ? n : p;
};
/**
 * Precomputes give 12x faster getPublicKey(), 10x sign(), 2x verify() by
 * caching multiples of G (base point). Cache is stored in 32MB of RAM.
 * Any time `G.multiply` is done, precomputes are used.
 * Not used for getSharedSecret, which instead multiplies random pubkey `P.multiply`.
 *
 * w-ary non-adjacent form (wNAF) precomputation method is 10% slower than windowed method,
 * but takes 2x less RAM. RAM reduction is possible by utilizing `.subtract`.
 * Returns the real accumulator `p` plus a fake accumulator `f`; callers only care about `p`, while
 * `f` exists to keep similar work in zero-digit branches as a JS/JIT side-channel mitigation.
 *
 * !! Precomputes can be disabled by commenting-out call of the wNAF() inside Point#multiply().
 */
const wNAF = (n) => {
    const comp = Gpows || (Gpows = precompute());
    let p = I;
    let f = G; // f must be G, or could become I in the end
    for (let w = 0; w < 33; w++) {
        let wbits = Number(n & 255n); // extract W=8 bits.
        n >>= 8n; // shift number by W=8 bits.
        // We use negative indexes to reduce size of precomputed table by 2x.
        // Instead of needing precomputes 0..256, we only calculate them for 0..128.
        // If an index > 128 is found, we do (256-index) - where 256 is next window.
        // Naive: index +127 => 127, +224 => 224
        // Optimized: index +127 => 127, +224 => 256-32
        if (wbits > 128) {
            wbits -= 256;
            n += 1n;
        }
        const off = w * 128; // offset of this window's block; also the fake-add index
        const offP = off + Math.abs(wbits) - 1; // real-add index; both offsets always evaluated
        const isOddW = w % 2 !== 0; // conditions, evaluate both; alternates fake-add sign per window
        const isNeg = wbits < 0;
        if (wbits === 0) {
            // wbits == 0 means the real index would be I: can't add it. Add window offset `off` instead.
            f = f.add(ctneg(isOddW, comp[off])); // bits are 0: add garbage to fake point
        }
        else {
            p = p.add(ctneg(isNeg, comp[offP])); // bits are 1: add to result point
        }
    }
    if (n !== 0n)
        throw new Error('invalid wnaf');
    return { p, f }; // return both real and fake points for JIT/leakage-shape symmetry
};
// !! Remove the export to easily use in REPL / browser console

return { Point };
})();
const { Point } = __noble;
// kpledger bundle verifier, written from specs/ (not generated from the Python code):
// canonical msgpack (specs/encoding.md), SHA-256 (WebCrypto), the strict Ed25519 rule
// (specs/signatures.md), RFC 6962 proofs (specs/merkle.md), signed notes and checkpoints
// (specs/checkpoint.md) and state-map proofs (specs/state-map.md).

class Failure extends Error {
  constructor(check, message) {
    super(message);
    this.check = check;
  }
}

const te = new TextEncoder();
const td = new TextDecoder('utf-8', { fatal: true });
const utf8 = (s) => te.encode(s);

function concat(...parts) {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}
const hex = (b) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
function eq(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
function cmpBytes(a, b) {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

async function sha256(data) {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', data));
}
async function sha512(data) {
  return new Uint8Array(await crypto.subtle.digest('SHA-512', data));
}

// ---------------------------------------------------------------- canonical msgpack

class EncodingError extends Error {}
const MAX_DEPTH = 16;

function encode(value) {
  const out = [];
  const push = (...b) => { for (const x of b) out.push(x); };
  const bytes = (b) => { for (const x of b) out.push(x); };
  function int(n) {
    n = BigInt(n);
    if (n >= 0n) {
      if (n < 128n) push(Number(n));
      else if (n < 256n) push(0xcc, Number(n));
      else if (n < 65536n) push(0xcd, Number(n >> 8n), Number(n & 255n));
      else if (n < 4294967296n) { push(0xce); be(n, 4); }
      else if (n < 18446744073709551616n) { push(0xcf); be(n, 8); }
      else throw new EncodingError('integer out of range');
    } else {
      if (n >= -32n) push(Number(256n + n));
      else if (n >= -128n) { push(0xd0); be(256n + n, 1); }
      else if (n >= -32768n) { push(0xd1); be(65536n + n, 2); }
      else if (n >= -2147483648n) { push(0xd2); be(4294967296n + n, 4); }
      else if (n >= -9223372036854775808n) { push(0xd3); be(18446744073709551616n + n, 8); }
      else throw new EncodingError('integer out of range');
    }
  }
  function be(n, k) { for (let i = k - 1; i >= 0; i--) push(Number((n >> BigInt(8 * i)) & 255n)); }
  function len(n, fix, fixmax, c8, c16, c32) {
    if (fix !== null && n <= fixmax) push(fix + n);
    else if (c8 !== null && n < 256) push(c8, n);
    else if (n < 65536) push(c16, n >> 8, n & 255);
    else { push(c32); be(BigInt(n), 4); }
  }
  function enc(v, depth) {
    if (depth > MAX_DEPTH) throw new EncodingError('too deep');
    if (v === null) push(0xc0);
    else if (v === false) push(0xc2);
    else if (v === true) push(0xc3);
    else if (typeof v === 'number') {
      if (!Number.isInteger(v)) throw new EncodingError('float');
      int(v);
    } else if (typeof v === 'bigint') int(v);
    else if (typeof v === 'string') {
      const b = utf8(v);
      len(b.length, 0xa0, 31, 0xd9, 0xda, 0xdb);
      bytes(b);
    } else if (v instanceof Uint8Array) {
      len(v.length, null, 0, 0xc4, 0xc5, 0xc6);
      bytes(v);
    } else if (Array.isArray(v)) {
      len(v.length, 0x90, 15, null, 0xdc, 0xdd);
      for (const x of v) enc(x, depth + 1);
    } else if (v instanceof Map || typeof v === 'object') {
      const entries = v instanceof Map ? [...v.entries()] : Object.entries(v);
      const keyed = entries.map(([k, x]) => [utf8(k), k, x]).sort((a, b) => cmpBytes(a[0], b[0]));
      len(keyed.length, 0x80, 15, null, 0xde, 0xdf);
      for (const [kb, , x] of keyed) {
        len(kb.length, 0xa0, 31, 0xd9, 0xda, 0xdb);
        bytes(kb);
        enc(x, depth + 1);
      }
    } else throw new EncodingError('not a kpledger value');
  }
  enc(value, 0);
  return Uint8Array.from(out);
}

/** Decode one canonical value (maps become plain objects with a null prototype). */
function decode(data, maxSize = 1 << 20) {
  if (data.length > maxSize) throw new EncodingError('input is larger than the limit');
  let pos = 0;
  const need = (n) => { if (pos + n > data.length) throw new EncodingError('truncated'); };
  const u = (k) => {
    need(k);
    let n = 0n;
    for (let i = 0; i < k; i++) n = (n << 8n) | BigInt(data[pos++]);
    return n;
  };
  const num = (n) => (n <= BigInt(Number.MAX_SAFE_INTEGER) && n >= -BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n);
  function str(n) {
    need(n);
    const s = td.decode(data.subarray(pos, pos + n));
    pos += n;
    return s;
  }
  function bin(n) { need(n); const b = data.slice(pos, pos + n); pos += n; return b; }
  function arr(n, d) { if (n > data.length) throw new EncodingError('length'); const a = []; for (let i = 0; i < n; i++) a.push(val(d + 1)); return a; }
  function map(n, d) {
    if (n > data.length) throw new EncodingError('length');
    const m = Object.create(null);
    for (let i = 0; i < n; i++) {
      const k = val(d + 1);
      if (typeof k !== 'string') throw new EncodingError('map key is not text');
      m[k] = val(d + 1);
    }
    return m;
  }
  function val(d) {
    if (d > MAX_DEPTH) throw new EncodingError('too deep');
    need(1);
    const b = data[pos++];
    if (b < 0x80) return b;
    if (b >= 0xe0) return b - 256;
    if (b >= 0xa0 && b <= 0xbf) return str(b - 0xa0);
    if (b >= 0x90 && b <= 0x9f) return arr(b - 0x90, d);
    if (b >= 0x80 && b <= 0x8f) return map(b - 0x80, d);
    switch (b) {
      case 0xc0: return null;
      case 0xc2: return false;
      case 0xc3: return true;
      case 0xcc: return num(u(1));
      case 0xcd: return num(u(2));
      case 0xce: return num(u(4));
      case 0xcf: return num(u(8));
      case 0xd0: { const n = u(1); return num(n >= 128n ? n - 256n : n); }
      case 0xd1: { const n = u(2); return num(n >= 32768n ? n - 65536n : n); }
      case 0xd2: { const n = u(4); return num(n >= 2147483648n ? n - 4294967296n : n); }
      case 0xd3: { const n = u(8); return num(n >= 9223372036854775808n ? n - 18446744073709551616n : n); }
      case 0xd9: return str(Number(u(1)));
      case 0xda: return str(Number(u(2)));
      case 0xdb: return str(Number(u(4)));
      case 0xc4: return bin(Number(u(1)));
      case 0xc5: return bin(Number(u(2)));
      case 0xc6: return bin(Number(u(4)));
      case 0xdc: return arr(Number(u(2)), d);
      case 0xdd: return arr(Number(u(4)), d);
      case 0xde: return map(Number(u(2)), d);
      case 0xdf: return map(Number(u(4)), d);
      default: throw new EncodingError(`type byte 0x${b.toString(16)} is not allowed`);
    }
  }
  let value;
  try {
    value = val(0);
  } catch (e) {
    if (e instanceof EncodingError) throw e;
    throw new EncodingError(String(e && e.message));
  }
  if (pos !== data.length) throw new EncodingError('trailing bytes after the encoded object');
  if (!eq(encode(value), data)) throw new EncodingError('not the canonical encoding');
  return value;
}

const isMap = (v) => v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Uint8Array);
const isInt = (v) => (typeof v === 'number' && Number.isInteger(v)) || typeof v === 'bigint';
const isBytes = (v) => v instanceof Uint8Array;

// ---------------------------------------------------------------- base64

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
function b64encode(b) {
  let s = '';
  for (let i = 0; i < b.length; i += 3) {
    const n = (b[i] << 16) | ((b[i + 1] ?? 0) << 8) | (b[i + 2] ?? 0);
    s += B64[(n >> 18) & 63] + B64[(n >> 12) & 63] + (i + 1 < b.length ? B64[(n >> 6) & 63] : '=') + (i + 2 < b.length ? B64[n & 63] : '=');
  }
  return s;
}
/** Strict standard base64: padded, and re-encoding gives the same text; null otherwise. */
function b64decode(s) {
  if (s.length % 4 !== 0) return null;
  const out = [];
  for (let i = 0; i < s.length; i += 4) {
    const c = [0, 1, 2, 3].map((k) => s[i + k]);
    const v = c.map((ch) => (ch === '=' ? 0 : B64.indexOf(ch)));
    if (v.some((x) => x < 0)) return null;
    const n = (v[0] << 18) | (v[1] << 12) | (v[2] << 6) | v[3];
    out.push((n >> 16) & 255);
    if (c[2] !== '=') out.push((n >> 8) & 255);
    if (c[3] !== '=') out.push(n & 255);
  }
  const b = Uint8Array.from(out);
  return b64encode(b) === s ? b : null;
}

// ---------------------------------------------------------------- Ed25519 (specs/signatures.md)

const P = 2n ** 255n - 19n;
const L = 2n ** 252n + 27742317777372353535851937790883648493n;
const leInt = (b) => { let n = 0n; for (let i = b.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(b[i]); return n; };
const SMALL_Y = new Set([0n, 1n, P - 1n,
  leInt(Uint8Array.from([0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4, 0x89, 0xf2, 0xef, 0x98, 0xf0, 0xd5, 0xdf, 0xac, 0x05, 0xd3, 0xc6, 0x33, 0x39, 0xb1, 0x38, 0x02, 0x88, 0x6d, 0x53, 0xfc, 0x05])),
  leInt(Uint8Array.from([0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b, 0x76, 0x0d, 0x10, 0x67, 0x0f, 0x2a, 0x20, 0x53, 0xfa, 0x2c, 0x39, 0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac, 0x03, 0x7a]))]);

function pointCheck(b, what) {
  const y = leInt(b) & ((1n << 255n) - 1n);
  const sign = b[31] >> 7;
  if (y >= P) return `non-canonical encoding of ${what}`;
  if ((y === 1n || y === P - 1n) && sign) return `non-canonical encoding of ${what}`;
  if (SMALL_Y.has(y)) return `${what} is a small-order point`;
  return null;
}

function checkPublicKey(pub) {
  if (pub.length !== 32) return `public key must be 32 bytes, got ${pub.length}`;
  const why = pointCheck(pub, 'A');
  if (why) return why;
  try { Point.fromBytes(pub); } catch { return 'A is not a point on the curve'; }
  return null;
}

/** The one Ed25519 rule; returns null when valid, else the reason. */
async function ed25519Verify(pub, msg, sig) {
  if (pub.length !== 32) return `public key must be 32 bytes, got ${pub.length}`;
  if (sig.length !== 64) return `signature must be 64 bytes, got ${sig.length}`;
  const S = leInt(sig.subarray(32));
  if (S >= L) return 'S is not below L';
  const r = sig.subarray(0, 32);
  let why = pointCheck(pub, 'A') || pointCheck(r, 'R');
  if (why) return why;
  let A;
  try { A = Point.fromBytes(pub); } catch { return 'signature does not verify'; }
  const k = leInt(await sha512(concat(r, pub, msg))) % L;
  const sb = S === 0n ? Point.ZERO : Point.BASE.multiplyUnsafe(S);
  const ka = k === 0n ? Point.ZERO : A.multiplyUnsafe(k);
  return eq(sb.subtract(ka).toBytes(), r) ? null : 'signature does not verify';
}

// ---------------------------------------------------------------- RFC 6962 (specs/merkle.md)

const leafHash = (d) => sha256(concat(Uint8Array.of(0), d));
const nodeHash = (l, r) => sha256(concat(Uint8Array.of(1), l, r));
const bitLength = (n) => (n === 0 ? 0 : Math.floor(Math.log2(n)) + 1);
const popcount = (n) => { let c = 0; while (n) { c += n & 1; n = Math.floor(n / 2); } return c; };

async function verifyInclusion(leaf, index, size, proof, root) {
  if (index >= size) throw new Failure('inclusion', 'index not in tree');
  const inner = bitLength(Number(BigInt(index) ^ BigInt(size - 1)));
  const border = popcount(Math.floor(index / 2 ** inner));
  if (proof.length !== inner + border) throw new Failure('inclusion', `wrong proof length: expected ${inner + border}, got ${proof.length}`);
  let fn = BigInt(index), sn = BigInt(size - 1), r = leaf;
  for (const p of proof) {
    if (sn === 0n) throw new Failure('inclusion', 'proof too long');
    if ((fn & 1n) === 1n || fn === sn) {
      r = await nodeHash(p, r);
      if ((fn & 1n) === 0n) while (fn !== 0n && (fn & 1n) === 0n) { fn >>= 1n; sn >>= 1n; }
    } else r = await nodeHash(r, p);
    fn >>= 1n; sn >>= 1n;
  }
  if (sn !== 0n || !eq(r, root)) throw new Failure('inclusion', 'calculated root differs');
}

async function verifyConsistency(oldSize, newSize, oldRoot, newRoot, proof) {
  if (oldSize > newSize) throw new Error('old size above new size');
  if (oldSize === newSize) {
    if (proof.length || !eq(oldRoot, newRoot)) throw new Error('same size, another root');
    return;
  }
  if (oldSize === 0) {
    if (proof.length) throw new Error('non-empty proof');
    if (!eq(oldRoot, await sha256(new Uint8Array(0)))) throw new Error('a tree of size 0 has the empty root');
    return;
  }
  let shift = 0;
  while (((oldSize >> shift) & 1) === 0) shift++;
  const o = BigInt(oldSize - 1) >> BigInt(shift), n = BigInt(newSize - 1) >> BigInt(shift);
  const inner = bitLength(Number(o ^ n));
  const border = popcount(Number(o >> BigInt(inner)));
  const pow2 = (oldSize & (oldSize - 1)) === 0;
  const want = inner + border + (pow2 ? 0 : 1);
  if (proof.length !== want) throw new Error(`wrong proof length: expected ${want}, got ${proof.length}`);
  const path = pow2 ? [oldRoot, ...proof] : [...proof];
  let fn = BigInt(oldSize - 1), sn = BigInt(newSize - 1);
  while ((fn & 1n) === 1n) { fn >>= 1n; sn >>= 1n; }
  let fr = path[0], sr = path[0];
  for (const c of path.slice(1)) {
    if (sn === 0n) throw new Error('proof too long');
    if ((fn & 1n) === 1n || fn === sn) {
      fr = await nodeHash(c, fr); sr = await nodeHash(c, sr);
      if ((fn & 1n) === 0n) while (fn !== 0n && (fn & 1n) === 0n) { fn >>= 1n; sn >>= 1n; }
    } else sr = await nodeHash(sr, c);
    fn >>= 1n; sn >>= 1n;
  }
  if (sn !== 0n || !eq(fr, oldRoot) || !eq(sr, newRoot)) throw new Error('roots differ');
}

// ---------------------------------------------------------------- notes (specs/checkpoint.md)

const WHITE = new Set('\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000');
const CONTROL = /[\x00-\x09\x0b-\x1f]/;
const validName = (n) => n !== '' && !n.includes('+') && ![...n].some((c) => WHITE.has(c)) && !CONTROL.test(n);

async function keyId(name, type, pub) {
  const d = await sha256(concat(utf8(name), Uint8Array.of(10, type), pub));
  return ((d[0] << 24) | (d[1] << 16) | (d[2] << 8) | d[3]) >>> 0;
}

async function parseVkey(vkey) {
  if (typeof vkey !== 'string' || vkey.length > 1024) throw new Error('a vkey must be text of at most 1024 characters');
  const i = vkey.indexOf('+'); const j = i < 0 ? -1 : vkey.indexOf('+', i + 1);
  if (j < 0) throw new Error('malformed vkey: expected name+keyid+key');
  const name = vkey.slice(0, i), hexId = vkey.slice(i + 1, j), raw = b64decode(vkey.slice(j + 1));
  if (!validName(name)) throw new Error('malformed vkey: invalid key name');
  if (!/^[0-9a-f]{8}$/.test(hexId)) throw new Error('malformed vkey: key ID must be 8 lowercase hex digits');
  if (!raw || raw.length < 1) throw new Error('malformed vkey: key is not canonical base64');
  const type = raw[0], pub = raw.slice(1);
  if (type !== 1 && type !== 4) throw new Error('unsupported vkey signature type');
  if (pub.length !== 32) throw new Error('vkey Ed25519 key must be 32 bytes');
  const why = checkPublicKey(pub);
  if (why) throw new Error(`vkey holds an unusable key: ${why}`);
  const id = await keyId(name, type, pub);
  if (parseInt(hexId, 16) !== id) throw new Error('vkey key ID does not match its key');
  return { name, id, pub, type };
}

function parseNote(text) {
  if (typeof text !== 'string') throw new Error('note must be text');
  if (utf8(text).length > (1 << 20)) throw new Error('note too large');
  if (CONTROL.test(text)) throw new Error('note contains a control character');
  const split = text.lastIndexOf('\n\n');
  if (split < 0) throw new Error('malformed note: no blank line before the signatures');
  const body = text.slice(0, split + 1), block = text.slice(split + 2);
  if (!block.endsWith('\n')) throw new Error('malformed note: the signature block must end with a newline');
  const lines = block.slice(0, -1).split('\n');
  if (lines.length > 100) throw new Error('too many signatures');
  const sigs = lines.map((line) => {
    if (!line.startsWith('\u2014 ')) throw new Error('malformed note: a signature line must start with an em dash and space');
    const rest = line.slice(2); const sp = rest.indexOf(' ');
    const name = sp < 0 ? rest : rest.slice(0, sp);
    if (sp < 0 || !validName(name)) throw new Error('malformed note signature: invalid key name');
    const raw = b64decode(rest.slice(sp + 1));
    if (!raw || raw.length < 5) throw new Error('malformed note signature: bad base64 or too short');
    return { name, id: ((raw[0] << 24) | (raw[1] << 16) | (raw[2] << 8) | raw[3]) >>> 0, sig: raw.slice(4) };
  });
  return { text: body, sigs };
}

async function verifyNote(text, verifier) {
  if (verifier.type !== 1) throw new Error('a log or note-signing key (type 0x01) is needed');
  const note = parseNote(text);
  let ok = 0;
  for (const s of note.sigs) {
    if (s.name !== verifier.name || s.id !== verifier.id) continue;
    const why = await ed25519Verify(verifier.pub, utf8(note.text), s.sig);
    if (why) throw new Error(`note signature by ${s.name} is invalid: ${why}`);
    ok++;
  }
  if (!ok) throw new Error('note is not signed by a known key');
  return note;
}

function parseCheckpoint(body) {
  if (!body.endsWith('\n')) throw new Error('malformed checkpoint');
  const lines = body.slice(0, -1).split('\n');
  if (lines.length < 3) throw new Error('malformed checkpoint: expected origin, size and root lines');
  const [origin, sizeLine, rootLine, ...ext] = lines;
  if (origin === '') throw new Error('malformed checkpoint: empty origin');
  if (!/^(0|[1-9][0-9]{0,18})$/.test(sizeLine) || BigInt(sizeLine) > 2n ** 63n - 1n) throw new Error('bad checkpoint size');
  const root = rootLine.length === 44 ? b64decode(rootLine) : null;
  if (!root || root.length !== 32) throw new Error('malformed checkpoint: root');
  if (ext.some((l) => l === '')) throw new Error('malformed checkpoint: empty extension line');
  return { origin, size: Number(sizeLine), root, ext };
}

const MAP_PREFIX = 'kpledger/v1 state-map ';
async function openCheckpoint(text, verifier) {
  const note = await verifyNote(text, verifier);
  const cp = parseCheckpoint(note.text);
  if (cp.origin !== verifier.name) throw new Error('checkpoint origin is not the signing key\'s name');
  const line = cp.ext.length === 1 ? cp.ext[0] : '';
  const raw = line.startsWith(MAP_PREFIX) && line.length === MAP_PREFIX.length + 44 ? b64decode(line.slice(MAP_PREFIX.length)) : null;
  if (!raw || raw.length !== 32) throw new Error('a kpledger checkpoint has exactly one extension line, the state-map root');
  cp.mapRoot = raw;
  return { cp, note };
}

/** Known cosigners' timestamps (name -> POSIX seconds); throws for a bad known line. */
async function verifyCosignatures(note, cosigners) {
  const out = new Map();
  for (const s of note.sigs) {
    const w = cosigners.find((c) => c.name === s.name && c.id === s.id);
    if (!w) continue;
    if (s.sig.length !== 72) throw new Error(`cosignature by ${s.name} must be 72 bytes`);
    const ts = leInt(s.sig.slice(0, 8).reverse());
    if (ts > 2n ** 63n - 1n) throw new Error('timestamp above 2^63 - 1');
    const msg = utf8(`cosignature/v1\ntime ${ts}\n${note.text}`);
    const why = await ed25519Verify(w.pub, msg, s.sig.subarray(8));
    if (why) throw new Error(`cosignature by ${s.name} is invalid: ${why}`);
    const t = Number(ts);
    out.set(s.name, Math.max(t, out.get(s.name) ?? t));
  }
  return out;
}

// ---------------------------------------------------------------- state map (specs/state-map.md)

const keyHash = (kind, key) => sha256(concat(utf8(kind), Uint8Array.of(0), utf8(key)));
const valueHash = (v) => sha256(encode(v));
function u64be(n) { const b = new Uint8Array(8); let x = BigInt(n); for (let i = 7; i >= 0; i--) { b[i] = Number(x & 255n); x >>= 8n; } return b; }
const mapLeafHash = (kh, vh, index) => sha256(concat(Uint8Array.of(2), kh, vh, u64be(index)));
const mapNode = (l, r) => sha256(concat(Uint8Array.of(3), l, r));
const bit = (kh, d) => (kh[d >> 3] >> (7 - (d & 7))) & 1;
const EMPTY = new Uint8Array(32);

function parseMapProof(v) {
  const f = ['index', 'key', 'kind', 'other', 'path', 'value'];
  if (!isMap(v) || Object.keys(v).sort().join() !== f.join()) throw new Error('map proof: expected exactly the fields');
  const { kind, key, value, index, other, path } = v;
  if (typeof kind !== 'string' || typeof key !== 'string' || !kind || !key) throw new Error('map proof: kind and key');
  if (kind.includes('\0') || key.includes('\0')) throw new Error('map proof: NUL');
  if (typeof index !== 'number' || !Number.isInteger(index) || index < 0) {
    if (!(typeof index === 'bigint' && index >= 0n && index < 2n ** 63n)) throw new Error('map proof: index');
  }
  if (!isBytes(value) || (value.length !== 0 && value.length !== 32)) throw new Error('map proof: value');
  if (!isBytes(other) || (other.length !== 0 && other.length !== 72)) throw new Error('map proof: other');
  if (value.length && other.length) throw new Error('map proof: a present key has no other leaf');
  if (!value.length && index !== 0) throw new Error('map proof: an absent key has index 0');
  if (!Array.isArray(path) || path.length > 256) throw new Error('map proof: path');
  if (!path.every((h) => isBytes(h) && (h.length === 0 || h.length === 32))) throw new Error('map proof: path hashes');
  if (path.some((h) => h.length === 32 && eq(h, EMPTY))) throw new Error('map proof: empty subtree as zeros');
  return { kind, key, value, index: Number(index), other, path, present: value.length === 32 };
}

async function mapRootFromProof(p) {
  const kh = await keyHash(p.kind, p.key);
  const depth = p.path.length;
  let acc;
  if (p.present) acc = await mapLeafHash(kh, p.value, p.index);
  else if (p.other.length) {
    const okh = p.other.subarray(0, 32);
    if (eq(okh, kh)) throw new Error('other is the key itself');
    let common = 0;
    while (common < 256 && bit(okh, common) === bit(kh, common)) common++;
    if (common < depth) throw new Error('the other leaf is not on the key\'s path');
    acc = await sha256(concat(Uint8Array.of(2), p.other));
  } else acc = EMPTY;
  if (depth && p.path[0].length === 0) throw new Error('not canonical');
  for (let i = 0; i < depth; i++) {
    const d = depth - 1 - i;
    const s = p.path[i].length ? p.path[i] : EMPTY;
    acc = bit(kh, d) ? await mapNode(s, acc) : await mapNode(acc, s);
  }
  return acc;
}

// The rules replay of a bundle (specs/proof-bundle.md §4 step 5): log records and signed
// entries (specs/log.md, specs/entries.md), the rules engine (specs/rules.md) and the
// per-record state-map leaves (specs/state-map.md §3). Written from the specs, checked
// against the Python verifier on the conformance corpus (specs/vectors/bundles/).
//
// A record the replay refuses throws a Failure whose check is the rule ID it breaks. A
// value this verifier cannot judge exactly (an integer beyond 2^53, which JavaScript
// numbers do not hold) throws Unsupported: the bundle's verdict is then "unchecked".

class Unsupported extends Error {}

const ruleFail = (rule, message) => new Failure(rule, message);
const encFail = (message) => new Failure('R-EN-1', message);

// ---------------------------------------------------------------- calendar (UTC)

const DAY_MS = 86400000;
function dateOf(ms) {
  const d = new Date(ms);
  if (Number.isNaN(d.getTime())) throw new Unsupported('time out of range');
  const s = d.toISOString();
  if (s.length !== 24) throw new Unsupported('date out of range');
  return s.slice(0, 10);
}
const dayNumber = (date) => {
  const t = Date.parse(`${date}T00:00:00Z`);
  if (Number.isNaN(t)) throw new Unsupported(`bad date ${date}`);
  return t / DAY_MS;
};
const daysBetween = (first, last) => dayNumber(last) - dayNumber(first);
const dateStartMs = (date) => dayNumber(date) * DAY_MS;
const judgedDays = (claimed, appended) => {
  const a = dateOf(claimed), b = dateOf(appended);
  return a === b ? [a] : [a, b];
};
const strMin = (a, b) => (a < b ? a : b);
const strMax = (a, b) => (a > b ? a : b);
// Text sorts by code point, as Python's sorted() does (specs/encoding.md: not by UTF-16 code
// unit, JavaScript's default, once characters above U+FFFF appear).
function byStr(a, b) {
  if (a === b) return 0;
  const x = [...a], y = [...b];
  const n = Math.min(x.length, y.length);
  for (let i = 0; i < n; i++) {
    const d = x[i].codePointAt(0) - y[i].codePointAt(0);
    if (d) return d < 0 ? -1 : 1;
  }
  return x.length < y.length ? -1 : x.length > y.length ? 1 : 0;
}

// ---------------------------------------------------------------- field shapes (specs/entries.md §5)

const ROLES = ['authority', 'mine', 'producer', 'trader', 'cutter', 'grader', 'retailer', 'publisher'];
const KP_STATUSES = ['participant', 'suspended', 'withdrawn'];
const HS_CODES = ['7102.10', '7102.21', '7102.31'];
const WARRANTY_STATEMENTS = ['2021', '2002'];
const PARAMETER_NAMES = ['cert-validity-days', 'confirm-days', 'mass-tolerance-points', 'mass-tolerance-ppm'];
const RE_COUNTRY = /^[A-Z]{2}$/;
const RE_CURRENCY = /^[A-Z]{3}$/;
const RE_DATE = /^([0-9]{4})-([0-9]{2})-([0-9]{2})$/;
const RE_ID = /^[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}$/;
const RE_NAME = /^[A-Za-z0-9][A-Za-z0-9 ._&'()-]{0,63}$/;
const RE_CTRL = /[\x00-\x1f\x7f]/;
const MAX_TEXT = 256;
const MAX_LIST = 1000;
const MAX_GOVERNORS = 100;
const MAX_SIGNATURES = 8;
const MAX_ENTRY_SIZE = 60000;
const MAX_RECORD_SIZE = 65535;

const shapeFail = (path, expected) => encFail(`field ${path}: expected ${expected}`);

function checkDate(v, path) {
  const m = typeof v === 'string' ? RE_DATE.exec(v) : null;
  if (!m) throw shapeFail(path, 'a date YYYY-MM-DD');
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const leap = y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);
  const dim = mo === 2 ? (leap ? 29 : 28) : [4, 6, 9, 11].includes(mo) ? 30 : 31;
  if (!(y >= 1900 && y <= 9999 && mo >= 1 && mo <= 12 && d >= 1 && d <= dim)) throw shapeFail(path, 'a real calendar date');
  return v;
}
function text(v, path) {
  if (typeof v !== 'string') throw shapeFail(path, 'text');
  const n = [...v].length;
  if (n < 1 || n > MAX_TEXT) throw shapeFail(path, `text of 1-${MAX_TEXT} characters`);
  if (RE_CTRL.test(v)) throw shapeFail(path, 'text without control characters');
  return v;
}
const ident = (v, path) => { if (typeof v !== 'string' || !RE_ID.test(v)) throw shapeFail(path, 'an id'); return v; };
const pname = (v, path) => { if (typeof v !== 'string' || !RE_NAME.test(v)) throw shapeFail(path, 'a name'); return v; };
const country = (v, path) => { if (typeof v !== 'string' || !RE_COUNTRY.test(v)) throw shapeFail(path, 'a country code'); return v; };
function uint(v, path, positive = false) {
  if (typeof v === 'bigint') {
    if (v < 0n || v >= 1n << 63n) throw shapeFail(path, 'an integer below 2^63');
    throw new Unsupported(`field ${path}: integer beyond 2^53`);
  }
  if (typeof v !== 'number' || !Number.isInteger(v) || v < (positive ? 1 : 0)) throw shapeFail(path, 'a non-negative integer');
  return v;
}
const bin = (v, path, size) => { if (!isBytes(v) || v.length !== size) throw shapeFail(path, `${size} bytes`); return v; };
const oneOf = (v, path, choices) => { if (!choices.includes(v)) throw shapeFail(path, `one of ${choices.join(', ')}`); return v; };
function exactMap(v, path, required, optional = []) {
  if (!isMap(v)) throw shapeFail(path, 'a map');
  for (const k of required) if (!(k in v)) throw encFail(`field ${path}.${k}: missing`);
  for (const k of Object.keys(v)) if (!required.includes(k) && !optional.includes(k)) throw encFail(`field ${path}.${k}: unknown field`);
  return v;
}
function list(v, path, item, min = 1, max = MAX_LIST) {
  if (!Array.isArray(v) || v.length < min || v.length > max) throw shapeFail(path, `a list of ${min}-${max} items`);
  v.forEach((x, i) => item(x, `${path}[${i}]`));
  return v;
}
function unique(values, path) {
  const keys = values.map((x) => (isBytes(x) ? `b:${hex(x)}` : `s:${x}`));
  if (new Set(keys).size !== keys.length) throw encFail(`field ${path}: duplicate items`);
  return values;
}
// A money field: committed {commitment: 32 bytes, currency} (specs/disclosure.md), or, as
// entries written before commitments still are, clear {amount, currency}.
const money = (v, path) => {
  const committed = isMap(v) && 'commitment' in v;
  const m = exactMap(v, path, committed ? ['commitment', 'currency'] : ['amount', 'currency']);
  if (committed) bin(m.commitment, `${path}.commitment`, 32);
  else uint(m.amount, `${path}.amount`);
  if (typeof m.currency !== 'string' || !RE_CURRENCY.test(m.currency)) throw shapeFail(`${path}.currency`, 'an ISO 4217 code');
  return m;
};
const input = (v, path) => { const m = exactMap(v, path, ['parcel', 'head']); ident(m.parcel, `${path}.parcel`); bin(m.head, `${path}.head`, 32); return m; };
const inputs = (v, path) => { const items = list(v, path, input); unique(items.map((i) => i.parcel), path); return items; };
const output = (v, path) => {
  const m = exactMap(v, path, ['parcel', 'carats'], ['stones']);
  ident(m.parcel, `${path}.parcel`);
  uint(m.carats, `${path}.carats`, true);
  if ('stones' in m) uint(m.stones, `${path}.stones`, true);
  return m;
};
const outputs = (min) => (v, path) => { const items = list(v, path, output, min); unique(items.map((o) => o.parcel), path); return items; };
const governor = (v, path) => { const m = exactMap(v, path, ['name', 'pub']); pname(m.name, `${path}.name`); bin(m.pub, `${path}.pub`, 32); return m; };
const governors = (v, path) => {
  const items = list(v, path, governor, 1, MAX_GOVERNORS);
  unique(items.map((g) => g.name), path);
  unique(items.map((g) => g.pub), path);
  return items;
};
const b32 = (v, p) => bin(v, p, 32);
const posint = (v, p) => uint(v, p, true);

const ENTRY_TYPES = {
  genesis: [{ operator: b32, name: pname }, { governors, threshold: posint }],
  'governance.set': [{ governors, threshold: posint }, {}],
  'participant.add': [{ name: pname, pub: b32, roles: (v, p) => unique(list(v, p, (r, q) => oneOf(r, q, ROLES)), p), country }, {}],
  'participant.revoke': [{ name: pname }, { reason: text, compromised_since: (v, p) => uint(v, p) }],
  'participant.rotate': [{ name: pname, pub: b32 }, {}],
  'kp-status.set': [{ country, status: (v, p) => oneOf(v, p, KP_STATUSES), from: checkDate }, {}],
  'param.set': [{ name: (v, p) => oneOf(v, p, PARAMETER_NAMES), value: (v, p) => uint(v, p), from: checkDate }, {}],
  origin: [{ parcel: ident, carats: posint, stones: posint, mine: text, hs: (v, p) => oneOf(v, p, HS_CODES) }, {}],
  grow: [{ parcel: ident, carats: posint, stones: posint, facility: text }, {}],
  'sanction.designate': [{ list: ident, party: pname, from: checkDate }, { reason: text }],
  'sanction.delist': [{ list: ident, party: pname, from: checkDate }, {}],
  'certificate.issue': [{
    number: ident,
    parcels: (v, p) => unique(list(v, p, ident), p),
    exporter: pname,
    importer: pname,
    exporter_country: country,
    importer_country: country,
    value: money,
    expires: checkDate,
    carats: posint,
    count: posint,
    hs: (v, p) => list(v, p, (h, q) => oneOf(h, q, HS_CODES)),
    origins: (v, p) => list(v, p, country),
  }, {}],
  'certificate.confirm': [{ number: ident, shipment: b32, carats: posint, count: posint }, {}],
  transfer: [{ to: pname, inputs }, { certificate: ident, price: money, warranty: (v, p) => oneOf(v, p, WARRANTY_STATEMENTS), wdc: ident }],
  accept: [{ transfer: b32 }, {}],
  reject: [{ transfer: b32 }, { reason: text }],
  cancel: [{ transfer: b32 }, {}],
  split: [{ input, outputs: outputs(2) }, {}],
  merge: [{ inputs, output }, {}],
  cut: [{ inputs, stones: outputs(1) }, { byproducts: outputs(1) }],
  grade: [{ input, report: ident }, { carats: posint }],
  sell: [{ input }, { price: money }],
};

function checkFields(type, fields) {
  const schema = Object.prototype.hasOwnProperty.call(ENTRY_TYPES, type) ? ENTRY_TYPES[type] : null;
  if (!schema) throw encFail(`field type: unknown entry type ${type}`);
  const [req, opt] = schema;
  exactMap(fields, 'fields', Object.keys(req), Object.keys(opt));
  for (const [k, c] of Object.entries(req)) c(fields[k], `fields.${k}`);
  for (const [k, c] of Object.entries(opt)) if (k in fields) c(fields[k], `fields.${k}`);
  if (type === 'genesis' && ('governors' in fields) !== ('threshold' in fields)) throw encFail('fields.governors and fields.threshold come together');
  return fields;
}

function decodeCanonical(data, maxSize, what) {
  if (data.length > maxSize) throw encFail(`${what} is ${data.length} bytes, the limit is ${maxSize}`);
  try {
    return decode(data);
  } catch (e) {
    if (e instanceof EncodingError) throw encFail(`${what}: ${e.message}`);
    throw e;
  }
}
const version = (m, what) => { if (m.v !== 1) throw encFail(`${what}: unsupported format version`); };

function parseRecord(raw) {
  const m = decodeCanonical(raw, MAX_RECORD_SIZE, 'record');
  if (!isMap(m)) throw encFail('record must be a map');
  version(m, 'record');
  exactMap(m, 'record', ['v', 'index', 'prev', 'time', 'entry']);
  uint(m.index, 'index');
  bin(m.prev, 'prev', 32);
  uint(m.time, 'time');
  if (!isBytes(m.entry)) throw shapeFail('entry', 'bytes');
  return { index: m.index, prev: m.prev, time: m.time, entryBytes: m.entry };
}

async function parseEntry(raw) {
  const m = decodeCanonical(raw, MAX_ENTRY_SIZE, 'entry');
  if (!isMap(m)) throw encFail('entry must be a map');
  version(m, 'entry');
  exactMap(m, 'entry', ['v', 'body', 'sigs']);
  if (!isBytes(m.body)) throw shapeFail('body', 'bytes');
  if (!Array.isArray(m.sigs) || m.sigs.length < 1 || m.sigs.length > MAX_SIGNATURES) throw shapeFail('sigs', 'a list of 1-8 signatures');
  const sigs = m.sigs.map((s, i) => {
    exactMap(s, `sigs[${i}]`, ['kid', 'sig']);
    return { kid: bin(s.kid, `sigs[${i}].kid`, 32), sig: bin(s.sig, `sigs[${i}].sig`, 64) };
  });
  if (new Set(sigs.map((s) => hex(s.kid))).size !== sigs.length) throw encFail('field sigs: the same key signs twice');
  const b = decodeCanonical(m.body, 1 << 20, 'entry body');
  if (!isMap(b)) throw encFail('entry body must be a map');
  version(b, 'entry body');
  exactMap(b, 'body', ['v', 'type', 'ledger', 'signer', 'time', 'fields']);
  if (typeof b.type !== 'string') throw shapeFail('type', 'text');
  text(b.ledger, 'ledger');
  bin(b.signer, 'signer', 32);
  uint(b.time, 'time');
  checkFields(b.type, b.fields);
  if (!sigs.some((s) => eq(s.kid, b.signer))) throw encFail('field sigs: no signature by the body\'s signer');
  return {
    bodyBytes: m.body, type: b.type, ledger: b.ledger, signer: b.signer, time: b.time,
    fields: b.fields, sigs, id: await sha256(raw),
  };
}
const signedBy = (entry, kid) => entry.sigs.find((s) => eq(s.kid, kid)) ?? null;
const SIG_CONTEXT = concat(utf8('kpledger/v1 entry signature'), Uint8Array.of(0));

// Signature checks are pure and the same triple recurs across bundles of one ledger.
const sigCache = new Map();
async function entrySigOk(entry, sig, pub) {
  const k = `${hex(pub)}:${hex(sig.sig)}:${hex(entry.id)}`;
  if (sigCache.has(k)) return sigCache.get(k);
  const why = await ed25519Verify(pub, concat(SIG_CONTEXT, entry.bodyBytes), sig.sig);
  if (sigCache.size > 100000) sigCache.clear();
  sigCache.set(k, why);
  return why;
}

// ---------------------------------------------------------------- state

class RState {
  constructor() { this.data = new Map(); this.writes = []; }
  get(kind, key) { const v = this.data.get(`${kind}\0${key}`); return v === undefined ? null : v; }
  put(kind, key, value) { this.data.set(`${kind}\0${key}`, value); this.writes.push([kind, key]); }
  *items(kind) {
    const p = `${kind}\0`;
    for (const [k, v] of this.data) if (k.startsWith(p)) yield [k.slice(p.length), v];
  }
  meta() { return this.get('meta', 'ledger'); }
  governance() { return this.get('gov', 'set'); }
  key(kid) { return this.get('kid', hex(kid)); }
  putKey(kid, info) { this.put('kid', hex(kid), info); }
  party(name) { return this.get('party', name); }
  putParty(p) { this.put('party', p.name, p); }
  parcel(pid) { return this.get('parcel', pid); }
  putParcel(p) { this.put('parcel', p.id, p); }
  transfer(offer) { return this.get('transfer', hex(offer)); }
  putTransfer(offer, t) { this.put('transfer', hex(offer), t); }
  cert(n) { return this.get('cert', n); }
  putCert(c) { this.put('cert', c.number, c); }
}

// ---------------------------------------------------------------- parameters (specs/rules.md §3.4)

const MAX_SKEW_MS = 5 * 60 * 1000;
const MAX_AGE_MS = 30 * DAY_MS;
const OFFER_TTL_MS = 30 * DAY_MS;
const PROPOSAL_TTL_MS = 7 * DAY_MS;
const YIELD_MIN = 150n, YIELD_MAX = 700n;
const STONES_PER_ROUGH = 3;
const RECEIVER_ROLES = ['trader', 'cutter', 'grader', 'retailer'];
const ROUGH_KINDS = ['rough', 'byproduct'];
const OPERATOR_ROLE = 'operator';
const GOVERNOR_ROLE = 'governor';
const MAX_THRESHOLD = 7;
const PPM = 1000000n;
const GROWN_HS = '7104.21';
const LEGACY_WARRANTY_UNTIL = { rough: '2024-09-30', other: '2026-09-30' };
const PARAMETERS = {
  'cert-validity-days': { def: 60, low: 1, high: 366 },
  'confirm-days': { def: 30, low: 1, high: 366 },
  'mass-tolerance-points': { def: 1, low: 0, high: 100 },
  'mass-tolerance-ppm': { def: 500, low: 0, high: 10000 },
};

function param(state, name, day) {
  let value = PARAMETERS[name].def;
  for (const [start, v] of state.get('param', name) ?? []) {
    if (start <= day) value = v; else break;
  }
  return value;
}
function tolerance(state, day, mass, weighings) {
  const per = BigInt(param(state, 'mass-tolerance-points', day));
  const ppm = BigInt(param(state, 'mass-tolerance-ppm', day));
  const a = per * BigInt(weighings), b = (BigInt(mass) * ppm) / 1000000n;
  return a > b ? a : b;
}
const big = (n) => BigInt(n);

// ---------------------------------------------------------------- signers (R-ID-*)

function getParty(state, rule, name, what) {
  const p = state.party(name);
  if (p === null) throw ruleFail(rule, `${what} ${name} is not a registered participant`);
  if (p.revoked !== null) throw ruleFail('R-ID-2', `${what} ${name} was revoked at record ${p.revoked}`);
  return { ...p };
}
async function verifySigs(state, entry, extra) {
  for (const sig of entry.sigs) {
    let pub = extra.get(hex(sig.kid)) ?? null;
    if (pub === null) {
      const info = state.key(sig.kid);
      if (info === null) throw ruleFail('R-ID-1', `signature by unknown key ${hex(sig.kid).slice(0, 16)}`);
      if (info.until !== null) throw ruleFail('R-ID-2', `signature by key ${hex(sig.kid).slice(0, 16)}, no longer in force`);
      pub = info.pub;
    }
    const why = await entrySigOk(entry, sig, pub);
    if (why) throw ruleFail('R-ID-1', `signature by key ${hex(sig.kid).slice(0, 16)} is invalid: ${why}`);
  }
}
function signerOf(state, entry) {
  const info = state.key(entry.signer);
  if (info === null) throw ruleFail('R-ID-1', 'signer key is not registered');
  if (info.until !== null) throw ruleFail('R-ID-2', `signer key of ${info.name} was ${info.revoked ? 'revoked' : 'rotated out'} at record ${info.until}`);
  const party = state.party(info.name);
  if (party === null) throw ruleFail('R-ID-1', `signer ${info.name} is not a registered participant`);
  return { name: info.name, kid: entry.signer, roles: [...party.roles], country: party.country };
}
function requireRole(signer, role, action) {
  if (!signer.roles.includes(role)) throw ruleFail('R-ID-1', `${signer.name} lacks the ${role} role needed to ${action}`);
}
function usable(pub, what) {
  const why = checkPublicKey(pub);
  if (why) throw ruleFail('R-ID-6', `${what} is unusable: ${why}`);
}

// ---------------------------------------------------------------- governance (R-GV-*)

function checkSet(govs, threshold) {
  const n = govs.length;
  if (threshold < 1 || threshold > n || threshold > MAX_THRESHOLD) throw ruleFail('R-GV-3', `threshold ${threshold} of ${n}`);
}
const nameOfKid = (state, kid) => { const info = state.key(kid); return info !== null ? info.name : hex(kid).slice(0, 16); };
const hasKid = (kids, kid) => kids.some((k) => eq(k, kid));

async function requireRegistry(a, action, also = null) {
  const { state, entry } = a;
  const gov = state.governance();
  if (gov === null) {
    const meta = state.meta();
    if (meta === null || !eq(a.signer.kid, meta.operator)) throw ruleFail('R-ID-3', `only the operator may ${action}`);
    return;
  }
  const members = gov.governors;
  const approved = entry.sigs.filter((s) => hasKid(members, s.kid));
  if (approved.length < gov.threshold) throw ruleFail('R-GV-1', `to ${action} needs ${gov.threshold} governors`);
  if (!hasKid(members, a.signer.kid)) throw ruleFail('R-GV-2', 'a registry change is proposed by a governor');
  for (const s of entry.sigs) {
    if (!hasKid(members, s.kid) && !(also !== null && eq(s.kid, also))) throw ruleFail('R-GV-2', 'signature by a non-governor on a registry change');
  }
  if (a.now > entry.time + PROPOSAL_TTL_MS) throw ruleFail('R-GV-4', 'the proposal expired');
  const pid = hex(await sha256(entry.bodyBytes));
  const seen = state.get('proposal', pid);
  if (seen !== null) throw ruleFail('R-GV-5', `this proposal was already applied at record ${seen}`);
  state.put('proposal', pid, a.index);
}

async function install(state, govs, threshold, index, now, entryId) {
  checkSet(govs, threshold);
  const old = state.governance();
  const current = new Map();
  for (const kid of old ? old.governors : []) current.set(nameOfKid(state, kid), kid);
  const kids = [];
  const named = new Set();
  for (const g of govs) {
    const { name, pub } = g;
    const kid = await sha256(pub);
    named.add(name);
    kids.push(kid);
    if (current.has(name) && eq(current.get(name), kid)) continue;
    const holder = state.key(kid);
    if (holder !== null) throw ruleFail('R-GV-3', `the key of governor ${name} is already registered`);
    const why = checkPublicKey(pub);
    if (why) throw ruleFail('R-GV-3', `the key of governor ${name} is unusable: ${why}`);
    let party;
    if (current.has(name)) {
      const p = state.party(name);
      const retired = state.key(current.get(name));
      if (p === null || retired === null) throw ruleFail('R-GV-3', `governor ${name} is missing from the registry`);
      state.putKey(current.get(name), { ...retired, until: index, revoked: false });
      party = { ...p, kid, entries: [...p.entries, entryId] };
    } else {
      if (state.party(name) !== null) throw ruleFail('R-GV-3', `governor name ${name} is already registered`);
      party = { name, kid, roles: [GOVERNOR_ROLE], country: '--', revoked: null, entries: [entryId] };
    }
    state.putKey(kid, { name, pub, from: index, until: null });
    state.putParty(party);
  }
  for (const [name, kid] of current) {
    if (named.has(name)) continue;
    const left = state.party(name);
    const info = state.key(kid);
    if (left === null || info === null) continue;
    state.putParty({ ...left, revoked: index, revoked_at: now, entries: [...left.entries, entryId] });
    state.putKey(kid, { ...info, until: index, revoked: true });
  }
  const history = old ? old.entries : [];
  state.put('gov', 'set', { governors: kids, threshold, since: index, entries: [...history, entryId] });
}

function requireNotGovernor(state, name) {
  const p = state.party(name);
  if (p !== null && p.roles.includes(GOVERNOR_ROLE)) throw ruleFail('R-GV-3', `${name} is a governor`);
}

// ---------------------------------------------------------------- registry

async function genesis(state, entry, index, now) {
  if (index !== 0 || state.meta() !== null) throw ruleFail('R-CH-4', 'a genesis entry may only be the first record');
  const f = entry.fields;
  const operator = f.operator;
  const kid = await sha256(operator);
  if (!eq(entry.signer, kid)) throw ruleFail('R-ID-3', 'the genesis entry must be signed by the operator key it names');
  usable(operator, 'operator key');
  await verifySigs(state, entry, new Map([[hex(kid), operator]]));
  state.put('meta', 'ledger', { origin: entry.ledger, operator: kid, name: f.name, genesis: entry.id });
  state.putKey(kid, { name: f.name, pub: operator, from: 0, until: null });
  state.putParty({ name: f.name, kid, roles: [OPERATOR_ROLE], country: '--', revoked: null, entries: [entry.id] });
  if ('governors' in f) await install(state, f.governors, f.threshold, index, now, entry.id);
}

async function governanceSet(a) {
  if (a.state.governance() === null) {
    const meta = a.state.meta();
    if (meta === null || !eq(a.signer.kid, meta.operator)) throw ruleFail('R-ID-3', 'only the operator may move this ledger to governance');
  } else await requireRegistry(a, 'change the governance set');
  await install(a.state, a.fields.governors, a.fields.threshold, a.index, a.now, a.entry.id);
}

async function participantAdd(a) {
  await requireRegistry(a, 'add participants');
  const { state, fields: f } = a;
  if (state.party(f.name) !== null) throw ruleFail('R-ID-6', `participant name ${f.name} is already registered`);
  const kid = await sha256(f.pub);
  if (state.key(kid) !== null) throw ruleFail('R-ID-6', 'this public key is already registered');
  usable(f.pub, 'public key');
  state.putKey(kid, { name: f.name, pub: f.pub, from: a.index, until: null });
  state.putParty({ name: f.name, kid, roles: [...f.roles], country: f.country, revoked: null, entries: [a.entry.id] });
}

async function participantRevoke(a) {
  await requireRegistry(a, 'revoke participants');
  const { state, fields: f } = a;
  const party = getParty(state, 'R-ID-6', f.name, 'participant');
  requireNotGovernor(state, f.name);
  if (party.roles.includes(OPERATOR_ROLE)) throw ruleFail('R-ID-3', 'the operator cannot be revoked');
  const since = 'compromised_since' in f ? f.compromised_since : null;
  if (since !== null && since > a.now) throw ruleFail('R-ID-2', 'a key cannot be compromised since a time after its revocation is appended');
  party.revoked = a.index;
  party.revoked_at = a.now;
  party.entries = [...party.entries, a.entry.id];
  if (since !== null) party.compromised = since;
  state.putParty(party);
  const old = state.key(party.kid);
  const info = old !== null ? { ...old } : { name: party.name, pub: new Uint8Array(0), from: 0, until: null };
  info.until = a.index;
  info.revoked = true;
  if (since !== null) info.compromised = since;
  state.putKey(party.kid, info);
}

async function participantRotate(a) {
  const { state, fields: f } = a;
  const named = state.party(f.name);
  await requireRegistry(a, 'rotate keys', named !== null ? named.kid : null);
  const party = getParty(state, 'R-ID-6', f.name, 'participant');
  requireNotGovernor(state, f.name);
  if (party.roles.includes(OPERATOR_ROLE)) throw ruleFail('R-ID-3', 'the operator key cannot be rotated');
  if (signedBy(a.entry, party.kid) === null) throw ruleFail('R-ID-5', `a key rotation must be co-signed by the old key of ${f.name}`);
  const newKid = await sha256(f.pub);
  if (state.key(newKid) !== null) throw ruleFail('R-ID-6', 'the new public key is already registered');
  usable(f.pub, 'the new public key');
  const old = state.key(party.kid);
  if (old !== null) state.putKey(party.kid, { ...old, until: a.index, revoked: false });
  state.putKey(newKid, { name: f.name, pub: f.pub, from: a.index, until: null });
  party.kid = newKid;
  party.entries = [...party.entries, a.entry.id];
  state.putParty(party);
}

async function kpStatusSet(a) {
  await requireRegistry(a, 'set KP status');
  const { state, fields: f } = a;
  const periods = [...(state.get('kp', f.country) ?? [])];
  if (periods.length && f.from <= periods[periods.length - 1][0]) throw ruleFail('R-KP-7', `KP status of ${f.country} from ${f.from} must start after the last period`);
  periods.push([f.from, f.status]);
  state.put('kp', f.country, periods);
  state.put('kp-entries', f.country, [...(state.get('kp-entries', f.country) ?? []), a.entry.id]);
}

async function paramSet(a) {
  await requireRegistry(a, 'set rule parameters');
  const { state, fields: f } = a;
  const spec = PARAMETERS[f.name];
  if (!(spec.low <= f.value && f.value <= spec.high)) throw ruleFail('R-PA-1', `${f.name} must be ${spec.low} to ${spec.high}`);
  if (f.from < a.day) throw ruleFail('R-PA-1', 'a rule parameter cannot change retroactively');
  const periods = [...(state.get('param', f.name) ?? [])];
  if (periods.length && f.from <= periods[periods.length - 1][0]) throw ruleFail('R-PA-1', `${f.name} must start after its last change`);
  periods.push([f.from, f.value]);
  state.put('param', f.name, periods);
  state.put('param-entries', f.name, [...(state.get('param-entries', f.name) ?? []), a.entry.id]);
}

function designation(a, status) {
  requireRole(a.signer, 'publisher', 'publish sanctions designations');
  const { state, fields: f } = a;
  const owner = state.get('list', f.list);
  if (owner !== null && owner.publisher !== a.signer.name) throw ruleFail('R-SA-4', `sanctions list ${f.list} is published by ${owner.publisher}`);
  let party = state.party(f.party);
  if (party === null) throw ruleFail('R-SA-4', `${f.party} is not a registered participant`);
  if (daysBetween(f.from, a.day) > 30) throw ruleFail('R-SA-4', 'a designation takes effect at most 30 days before it is published');
  const lists = {};
  for (const [k, v] of Object.entries(party.lists ?? {})) lists[k] = [...v];
  const periods = Object.prototype.hasOwnProperty.call(lists, f.list) ? lists[f.list] : [];
  if (periods.length && f.from <= periods[periods.length - 1][0]) throw ruleFail('R-SA-4', 'must start after its last change');
  const current = periods.length ? periods[periods.length - 1][1] : 'delisted';
  if (current === status) throw ruleFail('R-SA-4', `${f.party} is already ${status} on ${f.list}`);
  lists[f.list] = [...periods, [f.from, status]];
  party = { ...party, lists, entries: [...party.entries, a.entry.id] };
  state.putParty(party);
  if (owner === null) state.put('list', f.list, { publisher: a.signer.name });
}

function listed(party, listId, day) {
  let status = 'delisted';
  const periods = party !== null && party.lists && Object.prototype.hasOwnProperty.call(party.lists, listId) ? party.lists[listId] : [];
  for (const [start, value] of periods) if (start <= day) status = value;
  return status === 'listed';
}

// ---------------------------------------------------------------- KP scheme (R-KP-*)

function kpStatus(state, cc, date) {
  let status = 'none';
  for (const [start, value] of state.get('kp', cc) ?? []) {
    if (start <= date) status = value; else break;
  }
  return status;
}
function requireStanding(state, rule, countries, days) {
  for (const [cc, what] of countries) {
    for (const day of days) {
      const s = kpStatus(state, cc, day);
      if (s !== 'participant') throw ruleFail(rule, `${what} ${cc} is ${s === 'none' ? 'not a KP participant' : s} on ${day}`);
    }
  }
}
function requireAuthorityInForce(state, cert) {
  const auth = state.party(cert.authority);
  if (auth !== null && auth.revoked !== null) throw ruleFail('R-ID-2', `KP certificate ${cert.number} was issued by a revoked authority`);
}

function certificateIssue(a) {
  requireRole(a.signer, 'authority', 'issue KP certificates');
  const { state, fields: f } = a;
  const rule = 'R-KP-6';
  const exp = f.exporter_country, imp = f.importer_country;
  if (a.signer.country !== exp) throw ruleFail(rule, 'an authority certifies exports from its own country');
  if (!f.number.startsWith(exp)) throw ruleFail(rule, 'certificate number prefix');
  if (state.get('cert', f.number) !== null) throw ruleFail(rule, 'certificate number already used');
  if (a.signer.name === f.exporter || a.signer.name === f.importer) throw ruleFail(rule, 'self-certification');
  const exporter = getParty(state, rule, f.exporter, 'exporter');
  const importer = getParty(state, rule, f.importer, 'importer');
  if (exporter.country !== exp) throw ruleFail(rule, 'exporter country');
  if (importer.country !== imp) throw ruleFail(rule, 'importer country');
  if (imp === exp) throw ruleFail(rule, 'a KP certificate covers an export to another country');
  const issued = dateOf(a.time);
  if (f.expires < issued) throw ruleFail(rule, 'expires before issue');
  if (daysBetween(issued, f.expires) > param(state, 'cert-validity-days', a.day)) throw ruleFail(rule, 'certificate valid too long');
  requireStanding(state, 'R-KP-5', [[exp, 'exporting country'], [imp, 'importing country']], a.days);
  if (f.value.currency !== 'USD') throw ruleFail(rule, 'the certificate value must be in USD');
  let carats = 0n;
  const hs = new Set(), may = new Set();
  for (const pid of f.parcels) {
    const p = state.parcel(pid);
    if (p === null) throw ruleFail('R-CU-6', `unknown parcel ${pid}`);
    if (p.status !== 'live' || p.holder !== f.exporter) throw ruleFail(rule, `exporter does not hold parcel ${pid}`);
    if (!ROUGH_KINDS.includes(p.kind)) throw ruleFail(rule, `${pid} is polished`);
    if (p.grown) throw ruleFail(rule, `${pid} is laboratory-grown`);
    carats += big(p.carats);
    hs.add(p.hs || '7102.10');
    for (const c of p.may) may.add(c);
  }
  if (big(f.carats) !== carats) throw ruleFail(rule, 'certificate carats');
  if (f.count !== f.parcels.length) throw ruleFail(rule, 'certificate count');
  if (f.hs.join('\n') !== [...hs].sort(byStr).join('\n')) throw ruleFail(rule, 'certificate HS codes');
  if (f.origins.join('\n') !== [...may].sort(byStr).join('\n')) throw ruleFail('R-KP-4', 'certificate origins must list every mining country');
  state.putCert({
    number: f.number, id: a.entry.id, issued, expires: f.expires, exporter: f.exporter, importer: f.importer,
    exporter_country: exp, importer_country: imp, parcels: [...f.parcels].sort(byStr), carats: Number(carats),
    authority: a.signer.name, used: null,
  });
}

function checkCertificate(a, number, receiver, parcels) {
  const { state, signer: sender } = a;
  let cert = state.cert(number);
  if (cert === null) throw ruleFail('R-KP-2', `no KP certificate ${number}`);
  if (cert.used !== null) throw ruleFail('R-KP-2', `KP certificate ${number} was already used`);
  requireAuthorityInForce(state, cert);
  if (cert.exporter !== sender.name || cert.importer !== receiver.name) throw ruleFail('R-KP-2', 'certificate parties');
  if (cert.exporter_country !== sender.country || cert.importer_country !== receiver.country) throw ruleFail('R-KP-2', 'certificate countries');
  if (parcels.map((p) => p.id).sort(byStr).join('\n') !== cert.parcels.join('\n')) throw ruleFail('R-KP-2', 'certificate parcels');
  if (parcels.reduce((s, p) => s + big(p.carats), 0n) !== big(cert.carats)) throw ruleFail('R-KP-2', 'certificate weight');
  for (const day of a.days) {
    if (!(cert.issued <= day && day <= cert.expires)) throw ruleFail('R-KP-2', `certificate not valid on ${day}`);
  }
  cert = { ...cert, used: a.entry.id };
  state.putCert(cert);
}

function certificateConfirm(a) {
  requireRole(a.signer, 'authority', 'confirm KP imports');
  const { state, fields: f } = a;
  let cert = state.cert(f.number);
  if (cert === null) throw ruleFail('R-KP-3', `no KP certificate ${f.number}`);
  if (a.signer.country !== cert.importer_country) throw ruleFail('R-KP-3', 'only the importing authority confirms');
  if ('confirmed' in cert) throw ruleFail('R-KP-3', 'already confirmed');
  if (cert.used === null || !eq(cert.used, f.shipment)) throw ruleFail('R-KP-3', 'certificate not used for this shipment');
  const offer = state.transfer(f.shipment);
  if (offer === null || offer.status !== 'accepted') throw ruleFail('R-KP-3', 'shipment not accepted');
  if (f.count !== cert.parcels.length) throw ruleFail('R-KP-3', 'confirmation count');
  const tau = tolerance(state, a.day, cert.carats, cert.parcels.length);
  const d = big(f.carats) - big(cert.carats);
  if ((d < 0n ? -d : d) > tau) throw ruleFail('R-KP-3', 'confirmation weight');
  cert = { ...cert, confirmed: a.entry.id };
  state.putCert(cert);
}

// ---------------------------------------------------------------- parcels (R-CU-*)

function entryParents(entry) {
  const f = entry.fields;
  if ('inputs' in f) return f.inputs.map((i) => i.head);
  if ('input' in f) return [f.input.head];
  if (['accept', 'reject', 'cancel'].includes(entry.type)) return [f.transfer];
  return [];
}

function liveInput(a, inp) {
  const pid = inp.parcel;
  const p = a.state.parcel(pid);
  if (p === null) throw ruleFail('R-CU-6', `unknown parcel ${pid}`);
  if (p.status === 'consumed') throw ruleFail('R-CU-3', `parcel ${pid} was already consumed`);
  if (p.status === 'sold') throw ruleFail('R-CU-3', `stone ${pid} was sold`);
  if (!eq(p.head, inp.head)) throw ruleFail('R-CU-3', `parcel ${pid} is at another state`);
  if (p.holder !== a.signer.name) throw ruleFail('R-CU-1', `${a.signer.name} is not the custodian of ${pid}`);
  if (p.status === 'locked') throw ruleFail('R-CU-2', `parcel ${pid} is locked in a pending transfer`);
  if (a.time + MAX_SKEW_MS < p.time) throw ruleFail('R-TM-2', `entry time is earlier than the last event of ${pid}`);
  return { ...p };
}
function newId(state, pid) {
  if (state.get('parcel', pid) !== null) throw ruleFail('R-CU-7', `parcel or stone id ${pid} is already in use`);
}
function consume(a, parcel) {
  a.state.putParcel({ ...parcel, status: 'consumed', head: a.entry.id });
}
function mergedPath(parcels) {
  const out = {};
  for (const p of parcels) {
    for (const [cc, [first, last]] of Object.entries(p.path)) {
      const have = Object.prototype.hasOwnProperty.call(out, cc) ? out[cc] : null;
      out[cc] = have === null ? [first, last] : [strMin(have[0], first), strMax(have[1], last)];
    }
  }
  return out;
}
function held(parcel, cc, day) {
  const path = { ...parcel.path };
  const have = Object.prototype.hasOwnProperty.call(path, cc) ? path[cc] : null;
  path[cc] = have === null ? [day, day] : [strMin(have[0], day), strMax(have[1], day)];
  parcel.path = path;
}
function create(a, { pid, kind, carats, stones, comp, may, hs, inputs: ins = [], yieldPermille = null, grown = false }) {
  newId(a.state, pid);
  const parcel = {
    id: pid, kind, carats, stones, holder: a.signer.name, head: a.entry.id, status: 'live', transfer: null,
    comp: { ...comp }, may: [...new Set(may)].sort(byStr), hs, time: a.time, created: a.entry.id,
    yield: yieldPermille, report: null, path: mergedPath(ins),
  };
  held(parcel, a.signer.country, a.day);
  if (grown) parcel.grown = true;
  if (ins.some((p) => p.unwarranted)) parcel.unwarranted = true;
  a.state.putParcel(parcel);
}

// ---------------------------------------------------------------- custody

function checkWarranty(a, parcels, warranty) {
  if (warranty === null) {
    if ('wdc' in a.fields) throw ruleFail('R-SW-1', 'a WDC registration id names a warranty statement: the transfer carries none');
    a.warn('R-SW-1', 'B2B transfer without a System of Warranties statement');
    return;
  }
  const broken = parcels.filter((p) => p.unwarranted).map((p) => p.id);
  if (broken.length) throw ruleFail('R-SW-2', `cannot warrant ${broken.join(', ')}`);
  if (warranty === '2002') {
    const rough = parcels.every((p) => ROUGH_KINDS.includes(p.kind));
    if (a.day > LEGACY_WARRANTY_UNTIL[rough ? 'rough' : 'other']) a.warn('R-SW-1', 'the 2002 statement expired');
  }
}

function transfer(a) {
  const f = a.fields;
  const receiver = getParty(a.state, 'R-CU-8', f.to, 'receiver');
  if (receiver.name === a.signer.name) throw ruleFail('R-CU-8', 'a transfer needs a different receiver');
  if (!receiver.roles.some((r) => RECEIVER_ROLES.includes(r))) throw ruleFail('R-ID-1', `receiver ${f.to} has no role that can take custody`);
  const parcels = f.inputs.map((i) => liveInput(a, i));
  const rough = parcels.filter((p) => ROUGH_KINDS.includes(p.kind) && !p.grown);
  const crossBorder = receiver.country !== a.signer.country;
  const number = 'certificate' in f ? f.certificate : null;
  if (rough.length && crossBorder && number === null) throw ruleFail('R-KP-2', 'rough crossing needs a KP certificate');
  const crossing = rough.length && crossBorder ? [a.signer.country, receiver.country] : null;
  if (crossing !== null) requireStanding(a.state, 'R-KP-5', [[crossing[0], 'exporting country'], [crossing[1], 'importing country']], a.days);
  if (number !== null) checkCertificate(a, number, receiver, parcels);
  const warranty = 'warranty' in f ? f.warranty : null;
  checkWarranty(a, parcels, warranty);
  for (const p of parcels) {
    Object.assign(p, { status: 'locked', transfer: a.entry.id, head: a.entry.id, time: a.time });
    held(p, a.signer.country, a.day);
    a.state.putParcel(p);
  }
  const offer = { from: a.signer.name, to: receiver.name, parcels: parcels.map((p) => p.id), status: 'pending', time: a.time, certificate: number };
  if (crossing !== null) offer.cross = crossing;
  if (warranty !== null) offer.warranty = warranty;
  a.state.putTransfer(a.entry.id, offer);
}

function pending(a) {
  const offer = a.state.transfer(a.fields.transfer);
  if (offer === null) throw ruleFail('R-CU-6', 'no such transfer offer');
  if (offer.status !== 'pending') throw ruleFail('R-CU-2', `transfer is already ${offer.status}`);
  return { ...offer };
}
function settle(a, offer, status, holder, cc) {
  for (const pid of offer.parcels) {
    let p = a.state.parcel(pid);
    if (p === null) throw ruleFail('R-CU-6', `unknown parcel ${pid}`);
    if (a.time + MAX_SKEW_MS < p.time) throw ruleFail('R-TM-3', 'the answer to a transfer must follow the offer');
    p = { ...p, status: 'live', transfer: null, head: a.entry.id };
    p.time = Math.max(p.time, a.time);
    if (holder !== null) {
      p.holder = holder;
      if (!('warranty' in offer)) p.unwarranted = true;
    }
    held(p, cc, a.day);
    a.state.putParcel(p);
  }
  offer.status = status;
  a.state.putTransfer(a.fields.transfer, offer);
}
function accept(a) {
  const offer = pending(a);
  if (offer.to !== a.signer.name) throw ruleFail('R-CU-2', `only ${offer.to} can accept this transfer`);
  const sender = a.state.party(offer.from);
  if (sender !== null && sender.revoked !== null) throw ruleFail('R-ID-2', 'the offer is from a revoked participant');
  if (Math.max(a.time, a.now) > offer.time + OFFER_TTL_MS) throw ruleFail('R-TM-3', 'the offer expired');
  if ('cross' in offer) requireStanding(a.state, 'R-KP-5', [[offer.cross[0], 'exporting country'], [offer.cross[1], 'importing country']], a.days);
  if (offer.certificate !== null) {
    const cert = a.state.cert(offer.certificate);
    if (cert !== null) {
      requireAuthorityInForce(a.state, cert);
      a.state.putCert({ ...cert, accepted: a.now });
    }
  }
  settle(a, offer, 'accepted', a.signer.name, a.signer.country);
}
function reject(a) {
  const offer = pending(a);
  if (offer.to !== a.signer.name) throw ruleFail('R-CU-2', `only ${offer.to} can reject this transfer`);
  const sender = a.state.party(offer.from);
  settle(a, offer, 'rejected', null, sender !== null ? sender.country : a.signer.country);
}
function cancel(a) {
  const offer = pending(a);
  if (offer.from !== a.signer.name) throw ruleFail('R-CU-2', `only ${offer.from} can cancel this transfer`);
  settle(a, offer, 'cancelled', null, a.signer.country);
}

// ---------------------------------------------------------------- transformations (R-MB-*)

function massBalance(a, rule, massIn, massOut, n, loss) {
  const tau = tolerance(a.state, a.day, massIn, n);
  const mi = big(massIn), mo = big(massOut);
  if (mo > mi + tau) throw ruleFail(rule, `outputs weigh ${massOut} points, more than the ${massIn} they come from (mass inflation)`);
  if (loss && mi - mo > tau) a.warn('R-MB-1', 'mass lost without explanation');
}
function noPolished(parcels, action) {
  for (const p of parcels) if (p.kind === 'polished') throw ruleFail('R-MB-6', `${p.id} is a polished stone; it cannot be ${action}`);
}
function oneNature(parcels, action) {
  const grown = parcels.map((p) => Boolean(p.grown));
  if (grown.some((g) => g) && !grown.every((g) => g)) throw ruleFail('R-SW-3', `laboratory-grown goods cannot be ${action} with natural goods`);
  return grown.every((g) => g);
}
function mixCompositions(parts) {
  const total = parts.reduce((s, [c]) => s + big(c), 0n);
  if (total <= 0n) throw new Unsupported('mixing needs a positive total mass');
  const numer = new Map();
  for (const [carats, comp] of parts) {
    for (const [cc, share] of Object.entries(comp)) numer.set(cc, (numer.get(cc) ?? 0n) + big(carats) * big(share));
  }
  const floors = new Map();
  for (const [cc, n] of numer) floors.set(cc, n / total);
  let missing = PPM;
  for (const v of floors.values()) missing -= v;
  const order = [...numer.keys()].sort((x, y) => {
    const rx = numer.get(x) % total, ry = numer.get(y) % total;
    if (rx !== ry) return rx > ry ? -1 : 1;
    return byStr(x, y);
  });
  for (const cc of order.slice(0, Number(missing > 0n ? missing : 0n))) floors.set(cc, floors.get(cc) + 1n);
  const out = {};
  for (const cc of [...floors.keys()].sort(byStr)) if (floors.get(cc) > 0n) out[cc] = Number(floors.get(cc));
  return out;
}
function newRough(a, site, hs, grown = false) {
  const f = a.fields;
  create(a, { pid: f.parcel, kind: 'rough', carats: f.carats, stones: f.stones, comp: { [a.signer.country]: 1000000 }, may: [a.signer.country], hs, grown });
  a.state.put('mine', f.parcel, { mine: site, by: a.signer.name });
}
function origin(a) {
  requireRole(a.signer, 'mine', 'register an origin');
  requireStanding(a.state, 'R-KP-1', [[a.signer.country, 'mining country']], a.days);
  newRough(a, a.fields.mine, a.fields.hs);
}
function grow(a) {
  requireRole(a.signer, 'producer', 'register laboratory-grown goods');
  newRough(a, a.fields.facility, GROWN_HS, true);
}
function split(a) {
  const f = a.fields;
  const parcel = liveInput(a, f.input);
  noPolished([parcel], 'split');
  const outs = f.outputs;
  const total = outs.reduce((s, o) => s + big(o.carats), 0n);
  massBalance(a, 'R-MB-1', parcel.carats, total, outs.length, true);
  const known = parcel.stones;
  if (known !== null && outs.reduce((s, o) => s + big(o.stones ?? 0), 0n) > big(known)) throw ruleFail('R-MB-3', 'split outputs hold more stones than their input');
  consume(a, parcel);
  for (const o of outs) {
    create(a, { pid: o.parcel, kind: parcel.kind, carats: o.carats, stones: 'stones' in o ? o.stones : null, comp: parcel.comp, may: parcel.may, hs: parcel.hs, inputs: [parcel], grown: Boolean(parcel.grown) });
  }
}
function merge(a) {
  const f = a.fields;
  if (f.inputs.length < 2) throw ruleFail('R-MB-1', 'a merge needs at least two parcels');
  const parcels = f.inputs.map((i) => liveInput(a, i));
  noPolished(parcels, 'merged into a parcel');
  const grown = oneNature(parcels, 'merged');
  const total = parcels.reduce((s, p) => s + big(p.carats), 0n);
  const o = f.output;
  massBalance(a, 'R-MB-1', total, o.carats, 1, true);
  let stones = null;
  const counts = parcels.map((p) => p.stones);
  if (counts.every((n) => n !== null)) {
    const sum = counts.reduce((s, n) => s + big(n), 0n);
    if ('stones' in o && big(o.stones) > sum) throw ruleFail('R-MB-3', 'merge output holds more stones than its inputs');
    if (sum > BigInt(Number.MAX_SAFE_INTEGER)) throw new Unsupported('stone count');
    stones = 'stones' in o ? o.stones : Number(sum);
  }
  const comp = mixCompositions(parcels.map((p) => [p.carats, p.comp]));
  const may = parcels.flatMap((p) => p.may);
  const hsCodes = new Set(parcels.map((p) => p.hs));
  for (const p of parcels) consume(a, p);
  create(a, {
    pid: o.parcel, kind: parcels.every((p) => p.kind === 'byproduct') ? 'byproduct' : 'rough', carats: o.carats, stones, comp, may,
    hs: hsCodes.size === 1 ? [...hsCodes][0] : '7102.10', inputs: parcels, grown,
  });
}
function cut(a) {
  requireRole(a.signer, 'cutter', 'cut rough into polished stones');
  const f = a.fields;
  const parcels = f.inputs.map((i) => liveInput(a, i));
  for (const p of parcels) if (p.kind !== 'rough') throw ruleFail('R-MB-6', `only rough parcels can be cut; ${p.id} is ${p.kind}`);
  const grown = oneNature(parcels, 'cut together');
  const totalIn = parcels.reduce((s, p) => s + big(p.carats), 0n);
  const stones = f.stones;
  const byproducts = 'byproducts' in f ? f.byproducts : [];
  const polished = stones.reduce((s, x) => s + big(x.carats), 0n);
  const totalOut = polished + byproducts.reduce((s, x) => s + big(x.carats), 0n);
  massBalance(a, 'R-MB-2', totalIn, totalOut, stones.length + byproducts.length, false);
  const counts = parcels.map((p) => p.stones);
  if (counts.every((n) => n !== null)) {
    const limit = big(STONES_PER_ROUGH) * counts.reduce((s, n) => s + big(n), 0n);
    if (big(stones.length) > limit) throw ruleFail('R-MB-3', 'too many polished stones');
  }
  const permille = (polished * 1000n) / totalIn;
  if (!(YIELD_MIN <= permille && permille <= YIELD_MAX)) a.warn('R-MB-5', 'polished yield outside 15-70%');
  const comp = mixCompositions(parcels.map((p) => [p.carats, p.comp]));
  const may = parcels.flatMap((p) => p.may);
  for (const p of parcels) consume(a, p);
  for (const s of stones) {
    newId(a.state, s.parcel);
    if (('stones' in s ? s.stones : 1) !== 1) throw ruleFail('R-MB-3', `polished stone ${s.parcel} must be a single stone`);
    create(a, { pid: s.parcel, kind: 'polished', carats: s.carats, stones: 1, comp, may, hs: null, inputs: parcels, yieldPermille: Number(permille), grown });
  }
  for (const b of byproducts) {
    create(a, { pid: b.parcel, kind: 'byproduct', carats: b.carats, stones: 'stones' in b ? b.stones : null, comp, may, hs: grown ? GROWN_HS : '7102.21', inputs: parcels, grown });
  }
}
function grade(a) {
  requireRole(a.signer, 'grader', 'grade stones');
  const f = a.fields;
  const stone = liveInput(a, f.input);
  if (stone.kind !== 'polished') throw ruleFail('R-GR-1', `${stone.id} is not a polished stone`);
  if ('carats' in f) {
    massBalance(a, 'R-MB-1', stone.carats, f.carats, 1, false);
    stone.carats = f.carats;
  }
  Object.assign(stone, { head: a.entry.id, time: a.time, report: f.report });
  held(stone, a.signer.country, a.day);
  a.state.putParcel(stone);
}
function sell(a) {
  requireRole(a.signer, 'retailer', 'sell to consumers');
  const stone = liveInput(a, a.fields.input);
  if (stone.kind !== 'polished') throw ruleFail('R-SL-1', `${stone.id} is not a polished stone`);
  Object.assign(stone, { status: 'sold', head: a.entry.id, time: a.time });
  held(stone, a.signer.country, a.day);
  a.state.putParcel(stone);
}

const HANDLERS = {
  'participant.add': participantAdd,
  'participant.revoke': participantRevoke,
  'participant.rotate': participantRotate,
  'kp-status.set': kpStatusSet,
  'param.set': paramSet,
  'governance.set': governanceSet,
  'sanction.designate': (a) => designation(a, 'listed'),
  'sanction.delist': (a) => designation(a, 'delisted'),
  origin,
  grow,
  'certificate.issue': certificateIssue,
  'certificate.confirm': certificateConfirm,
  transfer,
  accept,
  reject,
  cancel,
  split,
  merge,
  cut,
  grade,
  sell,
};

async function applyEntry(state, entry, index, now) {
  if (entry.time > now + MAX_SKEW_MS) throw ruleFail('R-TM-1', 'the entry\'s claimed time is in the future beyond the allowed skew');
  if (entry.time + MAX_AGE_MS < now && entry.type !== 'genesis') throw ruleFail('R-TM-4', 'the entry\'s claimed time is more than 30 days before its append time');
  if (entry.type === 'genesis') { await genesis(state, entry, index, now); return []; }
  const meta = state.meta();
  if (meta === null) throw ruleFail('R-CH-4', 'the first record must be the genesis entry');
  if (entry.ledger !== meta.origin) throw ruleFail('R-EN-2', `entry was signed for ledger ${entry.ledger}`);
  const signer = signerOf(state, entry);
  await verifySigs(state, entry, new Map());
  const warnings = [];
  const a = {
    state, entry, signer, index, now, fields: entry.fields, time: entry.time,
    day: dateOf(now), days: judgedDays(entry.time, now), warn: (rule, message) => warnings.push({ rule, message }),
  };
  await HANDLERS[entry.type](a);
  return warnings;
}

/**
 * Replay bundle records ({index, record}) in log order with non-contiguous indexes.
 * Returns { state, entries: Map(hex id -> {record, entry}), leaves: Map(kind\0key -> {vh, index}) }.
 */
async function replayRecords(records) {
  const state = new RState();
  const entries = new Map();
  const leaves = new Map();
  let lastTime = 0;
  for (const r of records) {
    const rec = parseRecord(r.record);
    if (rec.index !== r.index) throw ruleFail('R-CH-1', `record stored at ${r.index} says it is record ${rec.index}`);
    if (rec.time < lastTime) throw ruleFail('R-TM-5', 'the log\'s clock never runs backwards');
    const entry = await parseEntry(rec.entryBytes);
    state.writes = [];
    await applyEntry(state, entry, r.index, rec.time);
    const seen = new Set();
    for (const [kind, key] of state.writes) {
      const k = `${kind}\0${key}`;
      if (seen.has(k)) continue;
      seen.add(k);
      const vh = await valueHash(state.get(kind, key));
      const leaf = leaves.get(k);
      if (!leaf || !eq(leaf.vh, vh)) leaves.set(k, { vh, index: r.index });
    }
    entries.set(hex(entry.id), { record: rec, entry });
    lastTime = rec.time;
  }
  return { state, entries, leaves };
}

// A buyer's policy (specs/policy.md): the c2sp.org/tlog-policy lines kpledger reads plus
// deny-origin, deny-custody, deny-listed, pack, grandfather-before and require; the rule
// packs on Russian diamonds (§5); the journey steps a policy is judged on; quarantine
// (specs/rules.md §3.3). Written from the specs.


class PolicyParseError extends Error {}

const POLICY_KEYWORDS = ['log', 'witness', 'group', 'quorum', 'deny-origin', 'deny-custody', 'deny-listed', 'pack', 'grandfather-before', 'require'];
const REQUIREMENTS = ['kp-certified', 'warranty', 'import-confirmed', 'natural'];
const PACK_NAMES = ['eu-russia', 'us-russia'];
const RE_LIST_ID = /^[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}$/;
const RE_CC = /^[A-Z]{2}$/;
const RE_K = /^[1-9][0-9]{0,3}$/;

function emptyPolicy() {
  return {
    logs: [], witnesses: [], groups: [], quorum: 'none', denyOrigins: new Set(), requireKp: false,
    requireWarranty: false, requireImportConfirmed: false, requireNatural: false, packs: [],
    denyCustody: new Set(), denyListed: new Set(), grandfatherBefore: null,
  };
}

/** The policy of a rule pack alone (`--policy eu-russia`). */
function namedPolicy(name) {
  if (!PACK_NAMES.includes(name)) throw new PolicyParseError(`unknown rule pack ${name}`);
  return { ...emptyPolicy(), packs: [name] };
}

/** Parse the text of a policy file (specs/policy.md §2-§4); throws PolicyParseError. */
async function parsePolicy(source) {
  if (new TextEncoder().encode(source).length > 64 << 10) throw new PolicyParseError('policy too large');
  const p = emptyPolicy();
  const names = new Set(), keys = new Set(), cosignerNames = new Set(), require = new Set();
  let quorum = null;
  const bad = (why) => { throw new PolicyParseError(why); };
  const vkey = async (text, type, what) => {
    let v;
    try { v = await parseVkey(text); } catch (e) { bad(`bad ${what} vkey: ${e.message}`); }
    if (v.type !== type) bad(`a ${what} vkey must have signature type ${type}`);
    const k = Array.from(v.pub).join(',');
    if (keys.has(k)) bad(`duplicate key ${v.name}`);
    keys.add(k);
    return v;
  };
  const newName = (n) => { if (n === 'none') bad('none is reserved'); if (names.has(n)) bad(`${n} is already defined`); names.add(n); };
  const countries = (t) => { const cs = t.split(','); for (const c of cs) if (!RE_CC.test(c)) bad(`${c} is not a country code`); return cs; };
  const lines = source.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    try {
      if (/[\x00-\x08\x0b-\x1f\x7f]/.test(line)) bad('control characters other than tab are not allowed');
      const tokens = line.replace(/^[ \t]+|[ \t]+$/g, '').split(/[ \t]+/);
      if (tokens[0] === '' || tokens[0].startsWith('#')) continue;
      const [kw, ...args] = tokens;
      if (kw === 'log' && (args.length === 1 || args.length === 2)) {
        p.logs.push({ verifier: await vkey(args[0], 1, 'log'), url: args[1] ?? null });
      } else if (kw === 'witness' && (args.length === 2 || args.length === 3)) {
        newName(args[0]);
        const v = await vkey(args[1], 4, 'witness');
        if (cosignerNames.has(v.name)) bad(`two witnesses share the key name ${v.name}`);
        cosignerNames.add(v.name);
        p.witnesses.push({ name: args[0], verifier: v });
      } else if (kw === 'group' && args.length >= 3) {
        const [name, k, ...members] = args;
        for (const m of members) if (!names.has(m)) bad(`group member ${m} is not defined above`);
        if (new Set(members).size !== members.length) bad(`group ${name} lists a member twice`);
        let threshold;
        if (k === 'all') threshold = members.length;
        else if (k === 'any') threshold = 1;
        else if (RE_K.test(k) && Number(k) <= members.length) threshold = Number(k);
        else bad('bad group threshold');
        newName(name);
        p.groups.push({ name, threshold, members });
      } else if (kw === 'quorum' && args.length === 1) {
        if (quorum !== null) bad('more than one quorum line');
        if (args[0] !== 'none' && !names.has(args[0])) bad(`quorum ${args[0]} is not defined above`);
        quorum = args[0];
      } else if (kw === 'deny-origin' && args.length === 1) {
        for (const c of countries(args[0])) p.denyOrigins.add(c);
      } else if (kw === 'deny-custody' && args.length === 1) {
        for (const c of countries(args[0])) p.denyCustody.add(c);
      } else if (kw === 'deny-listed' && args.length === 1) {
        if (!RE_LIST_ID.test(args[0])) bad(`${args[0]} is not a sanctions list id`);
        p.denyListed.add(args[0]);
      } else if (kw === 'pack' && args.length === 1) {
        if (!PACK_NAMES.includes(args[0])) bad(`unknown rule pack ${args[0]}`);
        if (!p.packs.includes(args[0])) p.packs.push(args[0]);
      } else if (kw === 'grandfather-before' && args.length === 1) {
        if (p.grandfatherBefore !== null) bad('more than one grandfather-before line');
        try { checkDate(args[0], 'grandfather-before'); } catch { bad(`${args[0]} is not a date`); }
        p.grandfatherBefore = args[0];
      } else if (kw === 'require' && args.length === 1) {
        if (!REQUIREMENTS.includes(args[0])) bad(`unknown requirement ${args[0]}`);
        require.add(args[0]);
      } else if (POLICY_KEYWORDS.includes(kw)) bad(`wrong number of arguments for ${kw}`);
      else bad(`unknown keyword ${kw}`);
    } catch (e) {
      if (e instanceof PolicyParseError) throw new PolicyParseError(`policy line ${i + 1}: ${e.message}`);
      throw e;
    }
  }
  if (quorum === null) bad('policy has no quorum line');
  p.quorum = quorum;
  p.requireKp = require.has('kp-certified');
  p.requireWarranty = require.has('warranty');
  p.requireImportConfirmed = require.has('import-confirmed');
  p.requireNatural = require.has('natural');
  return p;
}

/** Whether the verified cosigners (key names) meet the policy's quorum (§3.4). */
function quorumMet(policy, cosignerNames) {
  if (policy.quorum === 'none') return true;
  const witnessed = new Map();
  for (const w of policy.witnesses) witnessed.set(w.name, cosignerNames.has(w.verifier.name));
  for (const g of policy.groups) witnessed.set(g.name, g.members.filter((m) => witnessed.get(m)).length >= g.threshold);
  if (!witnessed.has(policy.quorum)) throw new PolicyParseError(`quorum ${policy.quorum} is not defined`);
  return witnessed.get(policy.quorum);
}

// ---------------------------------------------------------------- journey and quarantine

/** The steps of an item's journey (what a policy judges): one per shown entry, in log order. */
function narrate(shown, state) {
  const steps = shown.map(({ record, entry }) => {
    const info = state.key(entry.signer);
    const actor = info !== null ? info.name : Array.from(entry.signer.subarray(0, 8), (x) => x.toString(16).padStart(2, '0')).join('');
    const party = state.party(actor);
    const step = {
      index: record.index, appended: record.time, type: entry.type, actor,
      country: party !== null ? party.country : '--', counterparty: null, warranty: null,
    };
    const f = entry.fields;
    if (entry.type === 'transfer') {
      step.counterparty = f.to;
      step.warranty = 'warranty' in f ? f.warranty : null;
    } else if (['accept', 'reject', 'cancel'].includes(entry.type)) {
      const offer = state.transfer(f.transfer);
      step.counterparty = offer !== null ? offer.from ?? null : null;
    }
    return step;
  });
  return steps.sort((a, b) => a.index - b.index);
}

/** Void entries (R-ID-2) among the shown entries, in log order. */
function quarantine(shown, state) {
  const out = [];
  for (const { record, entry } of shown) {
    const when = Math.max(record.time, entry.time);
    for (const sig of entry.sigs) {
      const info = state.key(sig.kid);
      if (info === null || !('compromised' in info)) continue;
      if (when >= info.compromised) { out.push({ index: record.index, type: entry.type, signer: info.name, since: info.compromised }); break; }
    }
  }
  return out.sort((a, b) => a.index - b.index);
}

// ---------------------------------------------------------------- rule packs (specs/policy.md §5)

const RUSSIA = 'RU';
const INDUSTRIAL_HS = '7102.21';
const PACKS = {
  'eu-russia': { name: 'eu-russia', direct: '2024-01-01', custody: '2024-01-01', thresholds: [['2024-03-01', 100], ['2024-09-01', 50]], roughOnly: false },
  'us-russia': { name: 'us-russia', direct: '2022-03-11', custody: '2024-03-01', thresholds: [['2024-03-01', 100], ['2024-09-01', 50]], roughOnly: true },
};
const has = (o, k) => Object.prototype.hasOwnProperty.call(o, k);

function judgePack(pack, facts, asOf, out) {
  if (facts.hs === INDUSTRIAL_HS) return;
  const custody = has(facts.path, RUSSIA) ? facts.path[RUSSIA] : null;
  const covered = !pack.roughOnly || facts.kind !== 'polished';
  if (custody !== null && covered && asOf >= pack.custody && custody[1] >= pack.custody) {
    out.russian.push(['R-SA-2', `${pack.name}: held in or exported from Russia until ${custody[1]}`]);
    return;
  }
  if (!facts.may.includes(RUSSIA) || asOf < pack.direct) return;
  const cutInRussia = facts.journey.some((s) => s.type === 'cut' && s.country === RUSSIA);
  if (facts.kind !== 'polished' || cutInRussia) {
    out.russian.push(['R-SA-1', `${pack.name}: ${facts.kind !== 'polished' ? 'rough of Russian origin' : 'a stone cut in Russia'} is denied from ${pack.direct}`]);
    return;
  }
  for (const [start, points] of [...pack.thresholds].sort((a, b) => a[1] - b[1])) {
    if (asOf >= start && facts.carats >= points) {
      out.russian.push(['R-SA-1', `${pack.name}: a stone that may contain Russian-mined diamonds is denied from ${start}`]);
      return;
    }
  }
}

function judge(facts, { asOf, packs, denyCustody, denyListed, state }) {
  const out = { failures: [], russian: [] };
  for (const name of packs) judgePack(PACKS[name], facts, asOf, out);
  for (const cc of [...denyCustody].sort(byStr)) {
    if (has(facts.path, cc)) {
      const span = facts.path[cc];
      (cc === RUSSIA ? out.russian : out.failures).push(['R-SA-2', `held in or exported from ${cc} (${span[0]} to ${span[1]}), a denied country of custody`]);
    }
  }
  const lists = [...denyListed].sort(byStr);
  if (lists.length) {
    for (const step of facts.journey) {
      const day = dateOf(step.appended);
      for (const id of lists) {
        if (listed(state.party(step.actor), id, day)) out.failures.push(['R-SA-4', `${step.actor} acted on the goods on ${day} while designated on sanctions list ${id}`]);
      }
    }
  }
  return out;
}

function leavesRussiaAt(journey) {
  const inRu = journey.filter((s) => s.country === RUSSIA).map((s) => s.index);
  if (!inRu.length) return null;
  const last = Math.max(...inRu);
  const after = journey.filter((s) => s.index > last && s.country !== RUSSIA).map((s) => s.index);
  return after.length ? Math.min(...after) : null;
}

/** R-SA-3: the goods were outside Russia in a log policy witnesses cosigned before the date. */
function grandfathered(journey, timeEvidence, policy, before) {
  const left = leavesRussiaAt(journey);
  if (left === null) return false;
  const limit = Math.floor(dateStartMs(before) / 1000);
  const bySize = new Map();
  for (const pr of timeEvidence) {
    if (pr.size > left && pr.timestamp < limit) {
      if (!bySize.has(pr.size)) bySize.set(pr.size, new Map());
      bySize.get(pr.size).set(pr.witness, pr.timestamp);
    }
  }
  for (const size of [...bySize.keys()].sort((a, b) => a - b)) {
    const stamps = bySize.get(size);
    if (policy.quorum !== 'none' && !quorumMet(policy, new Set(stamps.keys()))) continue;
    return true;
  }
  return false;
}

// Verification of a .kpproof bundle, every step of specs/proof-bundle.md §4: decode, the
// checkpoint's signed note, record order and genesis, every inclusion proof, the rules
// replay (web/src/rules.js), the ledger, item and ancestry DAG, the state-map proofs, the
// attestation, quarantine, time evidence and the buyer's policy (web/src/policy.js). The
// verdicts and check names are those of §4.1. A bundle holding a value this verifier
// cannot judge exactly (an integer beyond 2^53) gets the verdict "unchecked".



const MAX_BUNDLE_SIZE = 16 << 20;

function decodeBundle(data) {
  if (data.length > MAX_BUNDLE_SIZE) throw new Failure('decode', 'bundle too large');
  let m;
  try { m = decode(data, MAX_BUNDLE_SIZE); } catch (e) { throw new Failure('decode', `malformed bundle: ${e.message}`); }
  const bad = (why) => { throw new Failure('decode', `malformed bundle: ${why}`); };
  if (!isMap(m)) bad('not a map');
  if (m.type !== 'kpledger-proof' || typeof m.v !== 'number') bad('not a kpledger proof bundle');
  if (m.v !== 2) bad(`format version ${m.v} is not 2`);
  const required = ['checkpoint', 'item', 'map', 'origin', 'records', 'type', 'v'];
  const keys = Object.keys(m).filter((k) => !['attestation', 'evidence', 'disclose'].includes(k)).sort();
  if (keys.join() !== required.join()) bad('missing or unknown fields');
  if ('attestation' in m && typeof m.attestation !== 'string') bad('attestation must be text');
  for (const k of ['origin', 'item', 'checkpoint']) if (typeof m[k] !== 'string') bad(`${k} must be text`);
  if (!Array.isArray(m.records) || m.records.length < 1 || m.records.length > 100000) bad('records');
  const records = m.records.map((r) => {
    if (!isMap(r) || Object.keys(r).sort().join() !== 'index,proof,record') bad('record fields');
    if (!isInt(r.index) || r.index < 0) bad('record index must be a non-negative integer');
    if (!isBytes(r.record) || !Array.isArray(r.proof)) bad('record must carry bytes and a proof list');
    if (r.proof.length > 64 || !r.proof.every((h) => isBytes(h) && h.length === 32)) bad('proof hashes');
    return { index: Number(r.index), record: r.record, proof: r.proof };
  });
  let evidence = [];
  if ('evidence' in m) {
    if (!Array.isArray(m.evidence) || m.evidence.length < 1 || m.evidence.length > 8) bad('evidence must be a list of 1 to 8');
    evidence = m.evidence.map((e) => {
      if (!isMap(e) || Object.keys(e).sort().join() !== 'checkpoint,proof' || typeof e.checkpoint !== 'string') bad('evidence shape');
      if (!Array.isArray(e.proof) || e.proof.length > 64 || !e.proof.every((h) => isBytes(h) && h.length === 32)) bad('evidence proof');
      return { checkpoint: e.checkpoint, proof: e.proof };
    });
  }
  if (!Array.isArray(m.map) || m.map.length < 1 || m.map.length > 10000) bad('map must be a list of 1 to 10000 proofs');
  let disclose = [];
  if ('disclose' in m) {
    if (!Array.isArray(m.disclose) || m.disclose.length < 1 || m.disclose.length > MAX_DISCLOSURES) {
      bad(`bundle disclose must be a list of 1 to ${MAX_DISCLOSURES} openings`);
    }
    disclose = m.disclose.map((o, i) => parseOpening(o, `disclose[${i}]`, bad));
  }
  let map;
  try { map = m.map.map(parseMapProof); } catch (e) { bad(e.message); }
  return { origin: m.origin, item: m.item, checkpoint: m.checkpoint, records, map, attestation: m.attestation ?? null, evidence, disclose };
}

// Committed money fields and their openings (specs/disclosure.md, specs/proof-bundle.md §2.4).
const MAX_DISCLOSURES = 10000;
const COMMITTED_FIELDS = { 'certificate.issue': ['value'], transfer: ['price'], sell: ['price'] };
const COMMITTED_LABELS = Object.entries(COMMITTED_FIELDS).flatMap(([t, names]) => names.map((f) => `${t}.${f}`));
const COMMIT_CONTEXT = new TextEncoder().encode('kpledger/v1 commitment\0');
const RE_OPENING_CURRENCY = /^[A-Z]{3}$/;

function parseOpening(o, path, bad) {
  if (!isMap(o) || Object.keys(o).sort().join() !== 'field,salt,value') bad(`field ${path}: expected exactly field, salt, value`);
  if (!COMMITTED_LABELS.includes(o.field)) bad(`field ${path}.field: expected one of ${COMMITTED_LABELS.join(', ')}`);
  if (!isBytes(o.salt) || o.salt.length !== 32) bad(`field ${path}.salt: expected 32 bytes`);
  const v = o.value;
  if (!isMap(v) || Object.keys(v).sort().join() !== 'amount,currency') bad(`field ${path}.value: expected amount and currency`);
  if (!isInt(v.amount) || v.amount < 0) bad(`field ${path}.value.amount: expected an unsigned integer`);
  if (typeof v.currency !== 'string' || !RE_OPENING_CURRENCY.test(v.currency)) bad(`field ${path}.value.currency: expected an ISO 4217 code`);
  return { field: o.field, salt: o.salt, value: { amount: v.amount, currency: v.currency } };
}

/** Each opening must open a commitment of the bundle's entries in the field it names; no
 * salt twice, no commitment opened twice (specs/disclosure.md §3). */
async function checkOpenings(openings, entries) {
  const present = new Map();
  for (const { entry } of entries.values()) {
    for (const name of COMMITTED_FIELDS[entry.type] ?? []) {
      const money = entry.fields[name];
      if (!isMap(money) || !('commitment' in money)) continue;
      const key = hex(money.commitment);
      if (!present.has(key)) present.set(key, new Set());
      present.get(key).add(`${entry.type}.${name}|${money.currency}`);
    }
  }
  const salts = new Set();
  const opened = new Set();
  for (const [n, o] of openings.entries()) {
    const where = `opening ${n} (${o.field})`;
    const salt = hex(o.salt);
    if (salts.has(salt)) throw new Failure('disclose', `${where}: salt used twice`);
    salts.add(salt);
    const c = hex(await sha256(concat(COMMIT_CONTEXT, encode({ field: o.field, salt: o.salt, value: o.value }))));
    if (!(present.get(c) ?? new Set()).has(`${o.field}|${o.value.currency}`)) {
      throw new Failure('disclose', `${where}: opens no commitment of this field here`);
    }
    if (opened.has(c)) throw new Failure('disclose', `${where}: the same commitment is opened twice`);
    opened.add(c);
  }
}

const PARAM_NAMES = ['cert-validity-days', 'confirm-days', 'mass-tolerance-points', 'mass-tolerance-ppm'];
const ATTESTATION_HEADER = 'kpledger/v1 item-state';

/** Every entry id (hex) reachable from the item's state through consumed heads. */
function ancestry(head, entries) {
  const seen = new Set();
  const todo = [hex(head)];
  while (todo.length) {
    const id = todo.pop();
    if (seen.has(id)) continue;
    const e = entries.get(id);
    if (!e) throw new Failure('dag', `entry ${id.slice(0, 16)} of the ancestry is missing from the bundle`);
    seen.add(id);
    for (const p of entryParents(e.entry)) todo.push(hex(p));
  }
  return seen;
}

const byKindKey = (a, b) => byStr(a[0], b[0]) || byStr(a[1], b[1]);

/** The state keys a bundle proves (specs/proof-bundle.md §2.3), in order. */
function mapKeys(state, item) {
  const keys = new Map([[`parcel\0${item}`, ['parcel', item]]]);
  const add = (k, n) => keys.set(`${k}\0${n}`, [k, n]);
  for (const [name, party] of state.items('party')) { add('party', name); add('kp', party.country); }
  for (const [kid] of state.items('kid')) add('kid', kid);
  for (const name of PARAM_NAMES) add('param', name);
  return [...keys.values()].sort(byKindKey);
}

/** Step 7: the state-map proofs against the checkpoint's map root and the replay (R-SM-1). */
async function checkLatestState(bundle, cp, state, leaves) {
  const wanted = mapKeys(state, bundle.item);
  const have = bundle.map.map((p) => [p.kind, p.key]);
  if (have.length !== wanted.length || have.some((k, i) => byKindKey(k, wanted[i]) !== 0)) {
    throw new Failure('R-SM-1', 'state map: the bundle must prove exactly the keys its records use, in order');
  }
  let latest = -1;
  for (const p of bundle.map) {
    const name = `${p.kind}/${p.key}`;
    let got;
    try { got = await mapRootFromProof(p); } catch (e) { throw new Failure('R-SM-1', `state map: ${e.message}`); }
    if (!eq(got, cp.mapRoot)) throw new Failure('R-SM-1', `state map: the proof for ${name} does not match the committed map root`);
    const leaf = leaves.get(`${p.kind}\0${p.key}`);
    if (!p.present) {
      if (leaf) throw new Failure('R-SM-1', `state map: ${name} is absent from the map, yet record ${leaf.index} sets it`);
      continue;
    }
    if (!leaf || !eq(leaf.vh, p.value) || leaf.index !== p.index) {
      throw new Failure('R-SM-1', `state map: as of checkpoint ${cp.size} the latest state of ${name} is the one record ${p.index} made; the bundle's records give ${leaf ? `the state of record ${leaf.index}` : 'no such state'}`);
    }
    if (p.kind === 'parcel' && p.key === bundle.item) latest = p.index;
  }
  return latest;
}

async function checkAttestation(text, verifier, cp, item, head) {
  let note;
  try { note = await verifyNote(text, verifier); } catch (e) { throw new Failure('attestation', e.message); }
  const lines = note.text.split('\n');
  if (lines.length !== 6 || lines[0] !== ATTESTATION_HEADER || lines[5] !== '') throw new Failure('attestation', 'the attestation is not a kpledger item-state attestation');
  const [origin, size, aItem, aHead] = lines.slice(1, 5);
  if (!/^[0-9]+$/.test(size) || (size !== '0' && size.startsWith('0'))) throw new Failure('attestation', 'the attestation\'s tree size is not a canonical decimal');
  if (origin !== cp.origin || BigInt(size) !== BigInt(cp.size) || aItem !== item) throw new Failure('attestation', `the attestation is for ${aItem} at size ${size} of ${origin}`);
  if (aHead !== hex(head)) throw new Failure('attestation', `the bundle omits later events of ${item}: the operator attests another latest state`);
}

/** Step 9: each evidence checkpoint is the operator's, earlier and consistent (§2.2). */
async function timeEvidence(bundle, cp, verifier, witnesses) {
  const out = [];
  for (const ev of bundle.evidence) {
    try {
      const { cp: old, note } = await openCheckpoint(ev.checkpoint, verifier);
      if (old.origin !== cp.origin || old.size > cp.size) throw new Error(`a checkpoint of size ${old.size} is not an earlier state of this log`);
      // With the edge cases of specs/merkle.md §3.3 (equal sizes, size 0).
      await verifyConsistency(old.size, cp.size, old.root, cp.root, ev.proof);
      const stamps = witnesses.length ? await verifyCosignatures(note, witnesses) : new Map();
      for (const name of [...stamps.keys()].sort(byStr)) out.push({ size: old.size, witness: name, timestamp: stamps.get(name) });
    } catch (e) {
      throw new Failure('evidence', `time evidence: ${e.message}`);
    }
  }
  return out;
}

async function loadPolicy(policy) {
  if (policy === null || policy === undefined) return null;
  if (typeof policy !== 'string') return policy;
  return policy === 'eu-russia' || policy === 'us-russia' ? namedPolicy(policy) : parsePolicy(policy);
}

/**
 * Verify a bundle against the trusted vkey, a policy (null, the text of a policy file, or
 * a rule pack's name) and the judgement date (YYYY-MM-DD, default: the append date of the
 * bundle's last record). Returns { verdict, failure, message } with the verdicts of
 * specs/proof-bundle.md §4.1: "valid", "invalid" naming the rule or check of the first
 * failure, "rejected" naming the rule of the first quarantine or policy failure; or
 * "unchecked" for a bundle this verifier cannot judge exactly.
 */
async function verifyBundle(data, vkeyText, policyText = null, asOf = null) {
  const verifier = await parseVkey(vkeyText.trim());
  try {
    const policy = await loadPolicy(policyText);
    const bundle = decodeBundle(data);
    let opened;
    try { opened = await openCheckpoint(bundle.checkpoint, verifier); } catch (e) { throw new Failure('checkpoint', e.message); }
    const { cp, note } = opened;
    if (cp.origin !== bundle.origin) throw new Failure('origin', `checkpoint is for ${cp.origin}, the bundle says ${bundle.origin}`);
    const idx = bundle.records.map((r) => r.index);
    for (let i = 1; i < idx.length; i++) if (idx[i] <= idx[i - 1]) throw new Failure('order', 'bundle records are not in strictly increasing log order');
    if (idx[0] !== 0) throw new Failure('genesis', 'bundle lacks the genesis record (index 0)');
    for (const r of bundle.records) {
      try {
        await verifyInclusion(await leafHash(r.record), r.index, cp.size, r.proof, cp.root);
      } catch (e) {
        throw new Failure('inclusion', `record ${r.index} is not in the checkpointed log: ${e.message}`);
      }
    }
    // Step 5: the rules replay (a Failure names the rule the record breaks).
    const { state, entries, leaves } = await replayRecords(bundle.records);
    // Step 6.
    const meta = state.meta();
    if (meta === null || meta.origin !== bundle.origin) throw new Failure('ledger', 'the genesis record does not name this ledger\'s origin');
    const item = state.parcel(bundle.item);
    if (item === null) throw new Failure('item', `the bundle does not contain item ${bundle.item}`);
    const dag = ancestry(item.head, entries);
    // Step 7.
    const latest = await checkLatestState(bundle, cp, state, leaves);
    if (bundle.attestation !== null) await checkAttestation(bundle.attestation, verifier, cp, bundle.item, item.head);
    await checkOpenings(bundle.disclose, entries);
    // Step 8: what the journey shows, and quarantine.
    const shown = [];
    const certificates = [];
    const ordered = [...entries.entries()].sort((a, b) => a[1].record.index - b[1].record.index);
    for (const [id, e] of ordered) {
      if (e.entry.type === 'certificate.issue') {
        const cert = state.cert(e.entry.fields.number);
        if (cert === null || cert.used === null || !dag.has(hex(cert.used))) continue;
        certificates.push({ number: cert.number, confirmed: 'confirmed' in cert });
      } else if (!dag.has(id)) continue;
      shown.push(e);
    }
    const journey = narrate(shown, state);
    const failures = quarantine(shown, state).map((v) => ['R-ID-2', `quarantined: record ${v.index} (${v.type}) was signed with the key of ${v.signer}, compromised`]);
    const judgedOn = asOf ?? dateOf(Math.max(...[...entries.values()].map((e) => e.record.time)));
    // Step 9.
    const witnesses = policy ? policy.witnesses.map((w) => w.verifier) : [];
    const evidence = await timeEvidence(bundle, cp, verifier, witnesses);
    let cosigners = new Map();
    if (witnesses.length) {
      try { cosigners = await verifyCosignatures(note, witnesses); } catch (e) { throw new Failure('cosignature', e.message); }
    }
    // Step 10: the policy.
    if (policy) {
      if (!quorumMet(policy, new Set(cosigners.keys()))) failures.push(['R-CH-2', `witness quorum ${policy.quorum} is not met`]);
      const facts = { kind: item.kind, carats: item.carats, hs: 'hs' in item ? item.hs : null, may: item.may, path: item.path ?? {}, journey };
      const judged = judge(facts, { asOf: judgedOn, packs: policy.packs, denyCustody: policy.denyCustody, denyListed: policy.denyListed, state });
      failures.push(...judged.failures);
      if (judged.russian.length) {
        const before = policy.grandfatherBefore;
        if (!(before && grandfathered(journey, evidence, policy, before))) failures.push(...judged.russian);
      }
      if (policy.requireWarranty) {
        const bare = journey.filter((s) => s.type === 'transfer' && s.warranty === null).map((s) => s.index);
        if (bare.length) failures.push(['R-SW-1', `${bare.length} B2B transfer(s) of the ancestry carry no System of Warranties statement`]);
      }
      if (policy.requireNatural && item.grown) failures.push(['R-SW-3', `${bundle.item} is laboratory-grown, not natural`]);
      if (policy.requireImportConfirmed) {
        const open = certificates.filter((c) => !c.confirmed).map((c) => c.number);
        if (open.length) failures.push(['R-KP-3', `the importing authority has not confirmed receipt under KP certificate ${open.join(', ')}`]);
      }
      const hit = [...policy.denyOrigins].filter((c) => item.may.includes(c)).sort();
      if (hit.length) failures.push(['R-SA-1', `may contain diamonds from denied origin ${hit.join(', ')}`]);
    }
    const checkpoint = { origin: cp.origin, size: cp.size };
    // What the buyer reads beside the verdict: the journey, composition, custody path.
    const details = {
      kind: item.kind, carats: item.carats, status: item.status, holder: item.holder,
      composition: item.comp, may: item.may, grown: Boolean(item.grown), path: item.path ?? {},
      certificates: certificates.map((c) => c.number),
      steps: journey.map((st) => ({ index: st.index, date: dateOf(st.appended), actor: st.actor, country: st.country, type: st.type, counterparty: st.counterparty })),
    };
    const base = { checkpoint, item: bundle.item, records: bundle.records.length, latest, asOf: judgedOn, journey: journey.length, details };
    if (failures.length) return { ...base, verdict: 'rejected', failure: failures[0][0], message: failures.map((f) => f[1]).join('; ') };
    return { ...base, verdict: 'valid', failure: null, message: `latest state as of checkpoint ${cp.size}` };
  } catch (e) {
    if (e instanceof Failure) return { verdict: 'invalid', failure: e.check, message: e.message };
    if (e instanceof Unsupported || e instanceof PolicyParseError) return { verdict: 'unchecked', failure: null, message: e.message };
    throw e;
  }
}

// The glue of the buyer's HTML report (cli/report/templates/report.html.j2): re-check the
// embedded bundle in this browser and say so in #browser-check, apart from the issuer's
// verdict. Without scripts the page keeps its static "not re-checked" text.
async function recheck() {
  const box = document.getElementById('browser-check');
  const proof = document.getElementById('kp-proof');
  if (!box || !proof) return;
  const text = box.querySelector('.browser-check-text');
  const say = (state, head, detail) => {
    box.dataset.state = state;
    box.className = `browser-check ${state}`;
    text.textContent = '';
    const strong = document.createElement('strong');
    strong.textContent = head;
    text.append(strong, ` ${detail}`);
  };
  const d = proof.dataset;
  say('checking', 'Checking in this browser…', '');
  let bytes;
  try {
    bytes = Uint8Array.from(atob(d.bundle.replace(/\s+/g, '')), (c) => c.charCodeAt(0));
  } catch (e) {
    say('error', 'Not re-checked in this browser:', `the embedded bundle is not base64 (${e.message}).`);
    return;
  }
  try {
    const start = performance.now();
    const r = await verifyBundle(bytes, d.vkey, d.policy || null, d.asOf || null);
    const ms = performance.now() - start;
    box.dataset.verdict = r.verdict;
    box.dataset.failure = r.failure ?? '';
    box.dataset.ms = ms.toFixed(1);
    const digest = hex(await sha256(bytes));
    const same = digest === d.digest
      ? 'the fingerprint printed below'
      : `SHA-256 ${digest}, NOT the fingerprint printed below`;
    const when = `${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC`;
    const differs = ['valid', 'rejected'].includes(d.issuer) && r.verdict !== d.issuer ? ' This differs from the issuer\'s verdict above: do not rely on this report.' : '';
    const how = `the bundle embedded in this page (${same}) against operator key ${d.keyId}, judged on ${r.asOf ?? d.asOf}, at ${when} in ${Math.round(ms)} ms.${differs}`;
    if (r.verdict === 'valid') {
      say('valid', 'Checked in this browser just now: VALID.', `This browser verified ${how}`);
    } else if (r.verdict === 'rejected') {
      say('rejected', `Checked in this browser just now: REJECTED BY POLICY (${r.failure}).`, `${r.message}. This browser checked ${how}`);
    } else if (r.verdict === 'invalid') {
      say('invalid', `Checked in this browser just now: INVALID (${r.failure}).`, `${r.message}. This browser checked ${how}`);
    } else {
      say('unchecked', 'Not re-checked in this browser:', `${r.message}.`);
    }
  } catch (e) {
    say('error', 'Not re-checked in this browser:', `the check could not run (${e.message}).`);
  }
}
globalThis.kpVerify = async (bytes, vkey, policy = null, asOf = null) => verifyBundle(bytes, vkey, policy, asOf);
globalThis.kpRecheck = recheck;
globalThis.kpRecheckDone = recheck();
