// Browser side of the test provider's WebAuthn pages, served at /static/webauthn-client.js.
//
// The login page has a button #webauthn-login whose data-options-url and data-verify-url
// name the interaction's endpoints. The registration page has a form #webauthn-register.
// Both report progress in the element #webauthn-status and set its data-state to
// "working", "done" or "failed", which tests can wait for.

'use strict';

(() => {
  function fromBase64url(text) {
    const base64 = text.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(text.length / 4) * 4, '=');
    return Uint8Array.from(atob(base64), (c) => c.charCodeAt(0)).buffer;
  }

  function toBase64url(buffer) {
    if (!buffer) {
      return undefined;
    }
    let binary = '';
    for (const byte of new Uint8Array(buffer)) {
      binary += String.fromCharCode(byte);
    }
    return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }

  function setStatus(state, message) {
    const status = document.getElementById('webauthn-status');
    status.dataset.state = state;
    status.textContent = message;
  }

  async function postJson(url, body) {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      credentials: 'same-origin',
    });
    const value = await response.json().catch(() => ({}));
    if (!response.ok) {
      throw new Error(value.error_description || `the provider returned HTTP ${response.status}`);
    }
    return value;
  }

  function credentialDescriptors(list) {
    return (list || []).map((descriptor) => ({ ...descriptor, id: fromBase64url(descriptor.id) }));
  }

  // The JSON form of a PublicKeyCredential that @simplewebauthn/server expects.
  function credentialToJson(credential) {
    const { response } = credential;
    const json = {
      id: credential.id,
      rawId: toBase64url(credential.rawId),
      type: credential.type,
      authenticatorAttachment: credential.authenticatorAttachment || undefined,
      clientExtensionResults: credential.getClientExtensionResults(),
      response: { clientDataJSON: toBase64url(response.clientDataJSON) },
    };
    if (response.attestationObject) {
      json.response.attestationObject = toBase64url(response.attestationObject);
      json.response.transports = response.getTransports ? response.getTransports() : [];
    } else {
      json.response.authenticatorData = toBase64url(response.authenticatorData);
      json.response.signature = toBase64url(response.signature);
      json.response.userHandle = toBase64url(response.userHandle);
    }
    return json;
  }

  async function signIn(button) {
    button.disabled = true;
    setStatus('working', 'Follow your device: touch the sensor or unlock the key.');
    try {
      const options = await postJson(button.dataset.optionsUrl, {});
      const credential = await navigator.credentials.get({
        publicKey: {
          ...options,
          challenge: fromBase64url(options.challenge),
          allowCredentials: credentialDescriptors(options.allowCredentials),
        },
      });
      const result = await postJson(button.dataset.verifyUrl, credentialToJson(credential));
      setStatus('done', 'Verified. Continuing...');
      window.location.assign(result.redirect);
    } catch (err) {
      setStatus('failed', `Sign-in with your device failed: ${err.message}`);
      button.disabled = false;
    }
  }

  async function register(form) {
    const submit = form.querySelector('button[type="submit"]');
    submit.disabled = true;
    setStatus('working', 'Follow your device: touch the sensor or unlock the key.');
    try {
      const options = await postJson(form.dataset.optionsUrl, {
        username: form.elements.username.value,
        password: form.elements.password.value,
      });
      const credential = await navigator.credentials.create({
        publicKey: {
          ...options,
          challenge: fromBase64url(options.challenge),
          user: { ...options.user, id: fromBase64url(options.user.id) },
          excludeCredentials: credentialDescriptors(options.excludeCredentials),
        },
      });
      const result = await postJson(form.dataset.verifyUrl, credentialToJson(credential));
      setStatus('done', `Registered a credential for ${result.username}.`);
      document.getElementById('webauthn-credential-id').textContent = result.id;
    } catch (err) {
      setStatus('failed', `Registration failed: ${err.message}`);
    } finally {
      submit.disabled = false;
    }
  }

  document.addEventListener('DOMContentLoaded', () => {
    const button = document.getElementById('webauthn-login');
    if (button) {
      if (!window.PublicKeyCredential) {
        button.disabled = true;
        setStatus('failed', 'This browser offers no WebAuthn here (it needs https or localhost).');
      }
      button.addEventListener('click', () => signIn(button));
    }

    const form = document.getElementById('webauthn-register');
    if (form) {
      form.addEventListener('submit', (event) => {
        event.preventDefault();
        register(form);
      });
    }
  });
})();
