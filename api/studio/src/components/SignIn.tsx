import { useState } from 'preact/hooks';

/** Paste an API key; it stays in this browser until "Sign out". */
export function SignIn({ onKey, problem }: { onKey: (key: string) => void; problem?: string }) {
  const [key, setKey] = useState('');
  return (
    <main class="sign-in">
      <h1>Easel Studio</h1>
      <form
        onSubmit={(event) => {
          event.preventDefault();
          if (key.trim()) onKey(key.trim());
        }}
      >
        <label for="api-key">API key</label>
        <input id="api-key" type="password" autoComplete="off" placeholder="easel_…" value={key} onInput={(event) => setKey(event.currentTarget.value)} />
        {problem && (
          <p class="error" role="alert">
            {problem}
          </p>
        )}
        <button type="submit">Sign in</button>
        <p class="hint">
          The key is kept in this browser until you sign out. In development, <code>npm start</code> prints a link that signs you in as the dev
          user; an admin makes keys with <code>npm run admin -- --help</code>.
        </p>
      </form>
    </main>
  );
}
