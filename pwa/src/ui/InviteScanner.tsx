// The camera, pointed at the invite QR code the branch secretary shows: a live picture, one
// line saying what to do, and one big button to give up. As soon as an invite code is read
// the camera goes off and the code is handed on, with no more taps; a QR code that holds
// anything else is named as such while the camera keeps looking.
import { useEffect, useRef, useState } from 'preact/hooks';
import { readInvite, ScanError, startScan, type Decoder, type Scan } from '../capture/scan';
import { t } from './i18n';

export function InviteScanner({
  onCode,
  onFailed,
  onCancel,
}: {
  /** An invite code was read; the camera is already off. */
  onCode: (code: string) => void;
  /** The camera could not be used, in words for the person; the camera is off. */
  onFailed: (message: string) => void;
  onCancel: () => void;
}) {
  const words = t();
  const video = useRef<HTMLVideoElement>(null);
  const [decoder, setDecoder] = useState<Decoder | null>(null);
  const [refused, setRefused] = useState<'link' | 'text' | null>(null);
  // The latest handlers, so that the camera is opened once however often the parent renders.
  const handlers = useRef({ onCode, onFailed });
  handlers.current = { onCode, onFailed };
  // The running scan, for the cancel button to turn the camera off at once: the unmount's
  // cleanup runs only after the next paint.
  const running = useRef<Scan | null>(null);

  useEffect(() => {
    let scan: Scan | null = null;
    let left = false;
    const fail = (error: unknown) => {
      scan?.stop();
      if (!left) handlers.current.onFailed(problemWords(error));
    };
    startScan(video.current!, {
      onText(text) {
        const reading = readInvite(text);
        if (reading.kind === 'invite') {
          scan?.stop();
          left = true;
          handlers.current.onCode(reading.code);
        } else {
          setRefused(reading.kind);
        }
      },
      onFailed: fail,
    }).then(
      (started) => {
        // Left while the camera was opening: it goes straight off again.
        if (left) started.stop();
        else {
          scan = started;
          running.current = started;
          setDecoder(started.decoder);
        }
      },
      fail,
    );
    return () => {
      left = true;
      scan?.stop();
    };
  }, []);

  return (
    <section class="scanner" data-decoder={decoder ?? undefined}>
      <p>
        <strong>{decoder ? words.scanAim : words.scanOpening}</strong>
      </p>
      <video ref={video} autoplay muted playsInline />
      {refused && (
        <p class="error" role="alert">
          {refused === 'link' ? words.scanOtherLink : words.scanNotInvite}
        </p>
      )}
      <button
        type="button"
        class="big"
        name="cancel-scan"
        onClick={() => {
          running.current?.stop();
          onCancel();
        }}
      >
        {words.scanCancel}
      </button>
    </section>
  );
}

function problemWords(error: unknown): string {
  const words = t();
  const code = error instanceof ScanError ? error.code : 'camera_failed';
  switch (code) {
    case 'camera_refused':
      return words.cameraRefused;
    case 'no_camera':
      return words.noCamera;
    case 'decoder_missing':
      return words.scanDecoderMissing;
    case 'camera_failed':
      return words.cameraFailed;
  }
}
