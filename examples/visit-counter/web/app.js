// The site's functions are on its own origin under api/: relative URLs work both at
// http://<namespace>.localhost:3233/ and at http://127.0.0.1:3233/sites/<namespace>/.
const count = document.getElementById('count');
const button = document.getElementById('hit');

async function call(action) {
  const response = await fetch(`api/counter/${action}.json`, { method: 'POST' });
  if (!response.ok) throw new Error(`${action}: HTTP ${response.status}`);
  return (await response.json()).visits;
}

function show(visits) {
  count.textContent = String(visits);
}

button.addEventListener('click', async () => {
  button.disabled = true;
  try {
    show(await call('hit'));
  } catch (e) {
    count.textContent = 'error';
    console.error(e);
  } finally {
    button.disabled = false;
  }
});

call('peek').then(show, (e) => { count.textContent = 'error'; console.error(e); });
