/** Types of scripts/dist-stamp.mjs (the digest of dist/'s build inputs). */
export declare const ROOT: string;
export declare function buildInputs(root?: string): string[];
export declare function sourceDigest(root?: string): string;
export declare function stampFile(root?: string): string;
export declare function readStamp(root?: string): string | undefined;
