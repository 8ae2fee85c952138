// Recording sound or video in the page, with a live picture while filming, the time
// recorded, and the free space the phone has left shown before a recording starts. A phone
// without room for a short recording refuses it before the camera opens, and one running out
// of room while recording stops and keeps what it has (the rules are in data/space.ts).
//
// The recorder is also where a recording cut off earlier and kept from the home screen comes
// back to its form (capture/recovery.ts): on mount it takes what was carried to this address.
import { useEffect, useRef, useState } from 'preact/hooks';
import { canRecord, startRecording, type Recording, type RecordingKind } from '../capture/recorder';
import { takeRecovered } from '../capture/recovery';
import type { App } from '../data/app';
import type { MediaRef } from '../data/model';
import { NoRoom, SHORTEST_RECORDING_S, freeSpace } from '../data/space';
import { formatSize } from './format';
import { explain, t } from './i18n';

/** A readable message for a failure to record or keep a file, saying what to do when the
 * phone is full. */
export function explainSpace(error: unknown): string {
  if (!(error instanceof NoRoom)) return explain(error);
  const words = t();
  // Sizes never wrap between their figure and their unit.
  const size = (bytes: number) => formatSize(bytes).replace(' ', '\u00a0');
  return 'recording' in error.refused
    ? words.noRoomToRecord(error.refused.recording, size(error.free), SHORTEST_RECORDING_S / 60, size(error.needed))
    : words.noRoomForFile(size(error.refused.file), size(error.free));
}

/** `video`: offers only video (a remote lesson is a video). */
export function Recorder({ app, video = false, onRecorded }: { app: App; video?: boolean; onRecorded: (media: MediaRef) => void }) {
  const words = t();
  const [recording, setRecording] = useState<Recording | null>(null);
  const [seconds, setSeconds] = useState(0);
  const [free, setFree] = useState<number | null>(null);
  const [error, setError] = useState('');
  const [stoppedForSpace, setStoppedForSpace] = useState(false);
  const [lowSpace, setLowSpace] = useState(false);
  const preview = useRef<HTMLVideoElement>(null);
  // The recording still running, for stopping once and for leaving the form.
  const live = useRef<Recording | null>(null);

  useEffect(() => {
    void freeSpace().then(setFree);
    for (const media of takeRecovered(location.hash)) onRecorded(media);
    // Leaving the form while recording stops the recording; what was stored of it is offered
    // back on the home screen.
    return () => live.current?.abandon();
  }, []);
  useEffect(() => {
    if (!recording) return;
    if (preview.current && recording.kind === 'video') preview.current.srcObject = recording.stream;
    const started = Date.now();
    const timer = setInterval(() => setSeconds(Math.floor((Date.now() - started) / 1000)), 500);
    return () => clearInterval(timer);
  }, [recording]);

  const start = async (kind: RecordingKind) => {
    setError('');
    setStoppedForSpace(false);
    setLowSpace(false);
    setSeconds(0);
    try {
      const started = await startRecording(app.storage, kind, location.hash, () => setLowSpace(true));
      live.current = started;
      setRecording(started);
    } catch (failure) {
      setError(explainSpace(failure));
      void freeSpace().then(setFree);
    }
  };
  const stop = async (forSpace: boolean) => {
    const current = live.current;
    if (!current) return;
    live.current = null;
    try {
      onRecorded(await current.stop());
      setStoppedForSpace(forSpace);
    } catch (failure) {
      setError(explainSpace(failure));
    } finally {
      setRecording(null);
      void freeSpace().then(setFree);
    }
  };
  useEffect(() => {
    if (lowSpace) void stop(true);
  }, [lowSpace]);

  if (recording) {
    return (
      <div class="recorder recording">
        {recording.kind === 'video' && <video ref={preview} autoplay muted playsInline />}
        <span class="clock">
          ● {Math.floor(seconds / 60)}:{String(seconds % 60).padStart(2, '0')}
        </span>
        <button type="button" class="primary" name="stop" onClick={() => stop(false)}>
          {words.stopRecording}
        </button>
      </div>
    );
  }
  return (
    <div class="recorder">
      <div class="row wrap">
        {!video && canRecord('audio') && (
          <button type="button" name="record-audio" onClick={() => start('audio')}>
            {words.recordAudio}
          </button>
        )}
        {canRecord('video') && (
          <button type="button" name="record-video" onClick={() => start('video')}>
            {words.recordVideo}
          </button>
        )}
      </div>
      {free !== null && <small class="quiet">{words.freeSpace(formatSize(free))}</small>}
      {stoppedForSpace && (
        <p class="notice stopped-for-space" role="status">
          {words.stoppedForSpace}
        </p>
      )}
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
    </div>
  );
}
