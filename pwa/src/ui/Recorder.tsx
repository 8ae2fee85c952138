// Recording sound or video in the page, with a live picture while filming, the time
// recorded, and the free space the phone has left shown before a long recording starts.
import { useEffect, useRef, useState } from 'preact/hooks';
import { canRecord, freeSpace, startRecording, type Recording, type RecordingKind } from '../capture/recorder';
import type { App } from '../data/app';
import type { MediaRef } from '../data/model';
import { formatSize } from './format';
import { explain, t } from './i18n';

export function Recorder({ app, onRecorded }: { app: App; onRecorded: (media: MediaRef) => void }) {
  const words = t();
  const [recording, setRecording] = useState<Recording | null>(null);
  const [seconds, setSeconds] = useState(0);
  const [free, setFree] = useState<number | null>(null);
  const [error, setError] = useState('');
  const preview = useRef<HTMLVideoElement>(null);

  useEffect(() => {
    void freeSpace().then(setFree);
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
    setSeconds(0);
    try {
      setRecording(await startRecording(app.storage, kind));
    } catch (failure) {
      setError(explain(failure));
    }
  };
  const stop = async () => {
    if (!recording) return;
    try {
      onRecorded(await recording.stop());
    } catch (failure) {
      setError(explain(failure));
    } finally {
      setRecording(null);
    }
  };

  if (recording) {
    return (
      <div class="recorder recording">
        {recording.kind === 'video' && <video ref={preview} autoplay muted playsInline />}
        <span class="clock">
          ● {Math.floor(seconds / 60)}:{String(seconds % 60).padStart(2, '0')}
        </span>
        <button type="button" class="primary" name="stop" onClick={stop}>
          {words.stopRecording}
        </button>
      </div>
    );
  }
  return (
    <div class="recorder">
      <div class="row wrap">
        {canRecord('audio') && (
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
      {error && <p class="error">{error}</p>}
    </div>
  );
}
