// Reading an invite's QR code with the camera: a live picture in a <video>, and a few times a
// second a small copy of it for a decoder. The browser's own BarcodeDetector reads it where
// it knows QR codes (Android's Chrome); elsewhere jsQR does, loaded only when someone opens
// the scanner, so that it is never part of the app's first download. What a QR code holds is
// only ever read as text here: a link in it is never opened, fetched or navigated to, and
// nothing but an invite code of the right shape is taken out of it. No UI here
// (ui/InviteScanner.tsx shows it).

/** The characters of an invite code: none that are misread (no 0/O, 1/I/L), as the server's
 * `auth::secrets` makes them. */
const CODE_ALPHABET = '23456789ABCDEFGHJKMNPQRSTUVWXYZ';
const CODE_LENGTH = 12;
/** Longer than any invite link; anything longer is not looked into. */
const MAX_TEXT = 512;
/** How often a frame is decoded, and how large it is at most: enough for a QR code held a
 * hand's width away, little enough that a cheap phone stays cool. */
const EVERY_MS = 250;
const MAX_SIDE = 480;

/**
 * An invite code as typed or scanned, grouped as the server issues it (`7KQ4-MZ2P-XW9D`), or
 * null if it cannot be one. Case, spaces and dashes do not matter (as on the server).
 */
export function inviteCode(typed: string): string | null {
  if (typed.length > 64) return null;
  const code = typed.replace(/[\s-]/g, '').toUpperCase();
  if (code.length !== CODE_LENGTH || [...code].some((c) => !CODE_ALPHABET.includes(c))) return null;
  return `${code.slice(0, 4)}-${code.slice(4, 8)}-${code.slice(8)}`;
}

/** What a QR code held: an invite code, a link that holds none, or other text. */
export type Reading = { kind: 'invite'; code: string } | { kind: 'link' } | { kind: 'text' };

/**
 * Looks for an invite code in what a QR code holds: either a bare code, or an app link whose
 * fragment is `enrol=CODE` (`auth::invite_qr` on the server), absolute or relative.
 *
 * The link's host is not required to be this app's: the office may show an invite made at
 * another address of the same server (its LAN address, or `localhost` on the server itself).
 * That costs nothing, because only the code is taken, and it is only ever sent to this app's
 * own server, exactly as if it had been typed; a code that is not this server's invite is
 * refused there. The link itself is never opened.
 */
export function readInvite(text: string): Reading {
  const held = text.trim();
  if (held.length === 0 || held.length > MAX_TEXT) return { kind: 'text' };
  const bare = inviteCode(held);
  if (bare) return { kind: 'invite', code: bare };
  if (!/^(https?:\/\/|\/|#)/i.test(held)) return { kind: 'text' };
  let url: URL;
  try {
    url = new URL(held, location.origin);
  } catch {
    return { kind: 'text' };
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return { kind: 'text' };
  const values = new URLSearchParams(url.hash.replace(/^#\/?/, '')).getAll('enrol');
  const code = values.length === 1 ? inviteCode(values[0]) : null;
  return code ? { kind: 'invite', code } : { kind: 'link' };
}

/** Why the scanner could not run, for the UI to say in plain words. */
export type ScanProblem = 'camera_refused' | 'no_camera' | 'camera_failed' | 'decoder_missing';

export class ScanError extends Error {
  constructor(readonly code: ScanProblem) {
    super(code);
  }
}

/** Which decoder reads the frames: the browser's own, or jsQR. */
export type Decoder = 'native' | 'jsqr';

export interface Scan {
  readonly decoder: Decoder;
  /** Stops the camera and the decoding; safe to call more than once. */
  stop(): void;
}

export interface ScanEvents {
  /** Text a QR code in the picture holds; called again for every frame it is read in. */
  onText(text: string): void;
  /** The camera stopped by itself (taken by another app, unplugged). */
  onFailed(problem: ScanError): void;
}

/**
 * Opens the back camera into `video` and reads QR codes in it until `stop()`. Throws a
 * `ScanError` if there is no camera, it is refused, or the decoder cannot be loaded; the
 * camera is off again whenever this throws.
 */
export async function startScan(video: HTMLVideoElement, events: ScanEvents): Promise<Scan> {
  if (!navigator.mediaDevices?.getUserMedia) throw new ScanError('no_camera');
  // The decoder loads while the person answers the camera question.
  const decoding = loadDecoder();
  let stream: MediaStream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({
      video: { facingMode: 'environment', width: { ideal: 640 }, height: { ideal: 480 } },
      audio: false,
    });
  } catch (error) {
    throw cameraProblem(error);
  }
  const off = () => {
    stream.getTracks().forEach((track) => track.stop());
    video.srcObject = null;
  };
  let decode: DecodeFrame;
  let decoder: Decoder;
  try {
    [decoder, decode] = await decoding;
  } catch {
    off();
    throw new ScanError('decoder_missing');
  }

  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    clearTimeout(timer);
    off();
  };
  for (const track of stream.getVideoTracks()) {
    track.addEventListener('ended', () => {
      if (stopped) return;
      stop();
      events.onFailed(new ScanError('camera_failed'));
    });
  }
  video.srcObject = stream;
  video.muted = true;
  video.playsInline = true;
  // A refused autoplay still shows frames to the canvas once the person taps; nothing to do.
  void video.play().catch(() => undefined);

  const canvas = document.createElement('canvas');
  const context = canvas.getContext('2d', { willReadFrequently: true });
  if (!context) {
    stop();
    throw new ScanError('camera_failed');
  }
  // One frame at a time: the next is taken only once this one is decoded.
  const tick = async () => {
    if (stopped) return;
    const { videoWidth: width, videoHeight: height } = video;
    if (video.readyState >= HTMLMediaElement.HAVE_CURRENT_DATA && width > 0 && height > 0) {
      const scale = Math.min(1, MAX_SIDE / Math.max(width, height));
      canvas.width = Math.round(width * scale);
      canvas.height = Math.round(height * scale);
      context.drawImage(video, 0, 0, canvas.width, canvas.height);
      let text: string | null = null;
      try {
        text = await decode(canvas, context);
      } catch {
        // A frame the decoder chokes on is skipped; the next one may read.
      }
      if (stopped) return;
      if (text !== null) events.onText(text);
    }
    if (!stopped) timer = setTimeout(() => void tick(), EVERY_MS);
  };
  timer = setTimeout(() => void tick(), EVERY_MS);
  return { decoder, stop };
}

/** Reads the QR code in the frame on `canvas`, if there is one. */
type DecodeFrame = (canvas: HTMLCanvasElement, context: CanvasRenderingContext2D) => Promise<string | null>;

/** The browser's Barcode Detection API, which TypeScript's DOM types do not have yet. */
interface BarcodeDetectorClass {
  new (options: { formats: string[] }): { detect(image: CanvasImageSource): Promise<{ rawValue: string }[]> };
  getSupportedFormats(): Promise<string[]>;
}

async function loadDecoder(): Promise<[Decoder, DecodeFrame]> {
  const Detector = (globalThis as { BarcodeDetector?: BarcodeDetectorClass }).BarcodeDetector;
  const native = Detector && (await Detector.getSupportedFormats().catch((): string[] => [])).includes('qr_code');
  if (Detector && native) {
    const detector = new Detector({ formats: ['qr_code'] });
    return ['native', async (canvas) => (await detector.detect(canvas))[0]?.rawValue ?? null];
  }
  const { default: jsQR } = await import('jsqr');
  return [
    'jsqr',
    async (canvas, context) => {
      const image = context.getImageData(0, 0, canvas.width, canvas.height);
      // Invites are dark on light, on a screen or on paper: trying the inverse as well would
      // double the work on every frame.
      return jsQR(image.data, image.width, image.height, { inversionAttempts: 'dontInvert' })?.data ?? null;
    },
  ];
}

function cameraProblem(error: unknown): ScanError {
  const name = error instanceof DOMException || error instanceof Error ? error.name : '';
  switch (name) {
    case 'NotAllowedError':
    case 'SecurityError':
      return new ScanError('camera_refused');
    case 'NotFoundError':
    case 'OverconstrainedError':
      return new ScanError('no_camera');
    default:
      return new ScanError('camera_failed');
  }
}
