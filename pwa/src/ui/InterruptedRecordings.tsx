// At the top of the home screen, each recording cut off before it was stopped (the page
// closed, the phone died): keep it, and its form opens with it attached, or drop it.
import { useEffect, useState } from 'preact/hooks';
import { dropInterrupted, interruptedRecordings, keepInterrupted, type Interrupted } from '../capture/recovery';
import type { App } from '../data/app';
import { formatDate, formatSize } from './format';
import { t } from './i18n';
import { explainSpace } from './Recorder';

export function InterruptedRecordings({ app }: { app: App }) {
  const [recordings, setRecordings] = useState<Interrupted[]>([]);
  useEffect(() => {
    void interruptedRecordings(app.storage).then(setRecordings);
  }, []);
  const gone = (id: string) => setRecordings((current) => current.filter((r) => r.id !== id));
  return (
    <>
      {recordings.map((recording) => (
        <InterruptedCard key={recording.id} app={app} recording={recording} onGone={() => gone(recording.id)} />
      ))}
    </>
  );
}

function InterruptedCard({ app, recording, onGone }: { app: App; recording: Interrupted; onGone: () => void }) {
  const words = t();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const act = async (action: () => Promise<void>) => {
    setBusy(true);
    setError('');
    try {
      await action();
      onGone();
    } catch (failure) {
      setError(explainSpace(failure));
    } finally {
      setBusy(false);
    }
  };
  const drop = () => {
    if (confirm(words.dropRecordingConfirm)) void act(() => dropInterrupted(app.storage, recording));
  };
  return (
    <section class="card interrupted" data-recording={recording.id} data-kind={recording.kind}>
      <h2>{words.interrupted(words.recordingKinds[recording.kind], words.lengthOf(recording.seconds), formatSize(recording.size))}</h2>
      {recording.startedAt !== null && <p class="meta">{words.interruptedAt(formatDate(recording.startedAt))}</p>}
      <p class="quiet">{words.interruptedHint}</p>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      <div class="row actions">
        <button name="keep-recording" class="primary" disabled={busy} onClick={() => act(() => keepInterrupted(app.storage, recording))}>
          {words.keepRecording}
        </button>
        <button name="drop-recording" disabled={busy} onClick={drop}>
          {words.dropRecording}
        </button>
      </div>
    </section>
  );
}
