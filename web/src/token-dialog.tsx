import { useEffect, useRef, useState } from 'preact/hooks';
import { getToken, onAskForToken, onTokenChange, setToken } from './token.js';

/**
 * Where the API token is entered: once per tab (`sessionStorage`), asked for when a read or an
 * action meets a 401, with the reason and where to get a token.
 */
export function TokenDialog() {
  const dialog = useRef<HTMLDialogElement>(null);
  const [why, setWhy] = useState('');
  const [has, setHas] = useState(getToken() !== null);
  const [value, setValue] = useState('');
  const [scope, setScope] = useState('trigger');
  useEffect(() => onTokenChange(() => setHas(getToken() !== null)), []);
  useEffect(
    () =>
      onAskForToken((reason, needed) => {
        setWhy(reason);
        setScope(needed);
        if (!dialog.current?.open) dialog.current?.showModal();
      }),
    [],
  );
  return (
    <>
      <button
        type="button"
        class="token-button"
        onClick={() => {
          setWhy('');
          setScope('trigger');
          dialog.current?.showModal();
        }}
      >
        {has ? '🔑 Token set' : 'Token'}
      </button>
      <dialog ref={dialog} aria-labelledby="token-title">
        <form
          method="dialog"
          onSubmit={() => {
            setToken(value);
            setValue('');
          }}
        >
          <h2 id="token-title">API token</h2>
          {why && <p role="alert">{why}</p>}
          <p>
            Reads need a token when the server protects them; actions (trigger, cancel, check now,
            retry) always do, and approving a fork&apos;s change request needs the{' '}
            <code>approve</code> scope. Use the token <code>nightless serve</code> printed or one
            from <code>nightless token create --scope {scope}</code>. It is kept for this tab only.
          </p>
          <label>
            Token{' '}
            <input
              type="password"
              autoComplete="off"
              value={value}
              onInput={(e) => setValue(e.currentTarget.value)}
            />
          </label>
          <div class="actions">
            <button type="submit" value="save">
              Save
            </button>
            {has && (
              <button
                type="button"
                onClick={() => {
                  setToken(null);
                  dialog.current?.close();
                }}
              >
                Forget
              </button>
            )}
            <button type="button" onClick={() => dialog.current?.close()}>
              Close
            </button>
          </div>
        </form>
      </dialog>
    </>
  );
}
